/** Every command group of `hsmkms`, in help order. */
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerKeyCommands } from './key-commands.js';

export type CommandRegistrar = (program: Command, io: CliIo) => void;

export const COMMANDS: readonly CommandRegistrar[] = [registerKeyCommands, registerAdminCommands];
