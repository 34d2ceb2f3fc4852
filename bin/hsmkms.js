#!/usr/bin/env node
'use strict';
// The hsmkms command: see lib/cli/main.ts (built into dist/cli).
const { run } = require('../dist/cli/run.js');

run();
