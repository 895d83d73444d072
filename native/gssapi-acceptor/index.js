'use strict';
// See index.d.ts for the contract. Built by node-gyp from src/acceptor.c at install time.
// Named one by one so that ES module importers (vitest, Node's import) see the names.
const binding = require('./build/Release/gssapi_acceptor.node');
exports.createContext = binding.createContext;
exports.step = binding.step;
exports.peerName = binding.peerName;
exports.wrap = binding.wrap;
exports.unwrap = binding.unwrap;
exports.release = binding.release;
