// autocannon setupRequest for filling the log straight through a logging
// instance: POST /log {"id": "fill-<run>-<n>", "msg": "fill <n>"}.
/* global require, module */
/* eslint-disable @typescript-eslint/no-require-imports -- autocannon require()s this file in its worker */
'use strict';
const { randomBytes } = require('node:crypto');

const run = randomBytes(4).toString('hex');
let n = 0;

module.exports = function setupRequest(req) {
  const i = n++;
  return { ...req, body: `{"id":"fill-${run}-${i}","msg":"fill ${run} ${i}"}` };
};
