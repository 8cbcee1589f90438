// The part of undici the single binary uses, without the rest of its index
// (fetch, cookies, WebSocket, EventSource, caches, mocks): loading all of it
// cost about 40 ms of every start-up of `bundle create`. build.ts points the
// bundle's `undici` imports here; running from source uses undici itself.
// Mirrors undici 7's index.js for these exports (request is its makeDispatcher(api.request)).
'use strict';
const Client = require('undici/lib/dispatcher/client');
const Dispatcher = require('undici/lib/dispatcher/dispatcher');
const Agent = require('undici/lib/dispatcher/agent');
const EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent');
const errors = require('undici/lib/core/errors');
const util = require('undici/lib/core/util');
const api = require('undici/lib/api');
const { getGlobalDispatcher, setGlobalDispatcher } = require('undici/lib/global');

Object.assign(Dispatcher.prototype, api);

function makeDispatcher(fn) {
  return (url, opts, handler) => {
    if (typeof opts === 'function') {
      handler = opts;
      opts = null;
    }
    if (!url || (typeof url !== 'string' && typeof url !== 'object' && !(url instanceof URL))) {
      throw new errors.InvalidArgumentError('invalid url');
    }
    if (opts != null && typeof opts !== 'object') throw new errors.InvalidArgumentError('invalid opts');
    if (opts && opts.path != null) {
      if (typeof opts.path !== 'string') throw new errors.InvalidArgumentError('invalid opts.path');
      let path = opts.path;
      if (!opts.path.startsWith('/')) path = `/${path}`;
      url = new URL(util.parseOrigin(url).origin + path);
    } else {
      if (!opts) opts = typeof url === 'object' ? url : {};
      url = util.parseURL(url);
    }
    const { agent, dispatcher = getGlobalDispatcher() } = opts;
    if (agent) throw new errors.InvalidArgumentError('unsupported opts.agent. Did you mean opts.client?');
    return fn.call(dispatcher, { ...opts, origin: url.origin, path: url.search ? `${url.pathname}${url.search}` : url.pathname, method: opts.method || (opts.body ? 'PUT' : 'GET') }, handler);
  };
}

module.exports = {
  Client,
  Dispatcher,
  Agent,
  EnvHttpProxyAgent,
  errors,
  interceptors: { redirect: require('undici/lib/interceptor/redirect') },
  request: makeDispatcher(api.request),
  getGlobalDispatcher,
  setGlobalDispatcher,
};
