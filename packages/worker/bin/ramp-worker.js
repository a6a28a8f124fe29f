#!/usr/bin/env node
'use strict';
// The ramp-worker command. The package ships its workflow code prebuilt from the same sources as
// its activities (dist/workflow-bundle.js): the worker loads it instead of bundling at every start.
// RAMP_WORKFLOW_BUNDLE, when set, still names another bundle.
const path = require('node:path');

if (!process.env.RAMP_WORKFLOW_BUNDLE) process.env.RAMP_WORKFLOW_BUNDLE = path.join(__dirname, '..', 'dist', 'workflow-bundle.js');
require('../dist/worker/main.js');
