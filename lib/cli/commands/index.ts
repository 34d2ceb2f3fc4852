/** Every command group of `hsmkms`, in help order. */
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerBenchCommand } from './bench-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerEnvelopeCommands } from './envelope-commands.js';
import { registerKeyCommands } from './key-commands.js';
import { registerServeCommand } from './serve-command.js';

export type CommandRegistrar = (program: Command, io: CliIo) => void;

export const COMMANDS: readonly CommandRegistrar[] = [
  registerKeyCommands,
  registerAdminCommands,
  registerEnvelopeCommands,
  registerDemoCommand,
  registerBenchCommand,
  registerServeCommand,
];
