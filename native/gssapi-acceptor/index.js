'use strict';
// See index.d.ts for the contract. Built by node-gyp from src/acceptor.c at install time.
module.exports = require('./build/Release/gssapi_acceptor.node');
