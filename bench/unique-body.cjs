// autocannon setupRequest (loaded by path in its worker thread): a distinct
// valid body per request, {"msg": "bench-<run>-<n>"}.
/* global require, module */
/* eslint-disable @typescript-eslint/no-require-imports -- autocannon require()s this file in its worker */
'use strict';
const { randomBytes } = require('node:crypto');

const run = randomBytes(4).toString('hex');
let n = 0;

module.exports = function setupRequest(req) {
  return { ...req, body: `{"msg":"bench-${run}-${n++}"}` };
};
