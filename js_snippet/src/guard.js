// The snippet runs on other people's pages: every entry point is wrapped so nothing throws into
// the host page, and everything skipped leaves through one path, `ignore`, with a reason.

import { config } from './config.js'

export function ignore(reason, detail) {
  if (config.debug) {
    try {
      console.warn('clickloop: ' + reason, detail === undefined ? '' : detail)
    } catch (e) {}
  }
}

export function guard(fn) {
  return function () {
    try {
      return fn.apply(this, arguments)
    } catch (e) {
      ignore('error', e)
    }
  }
}

export function on(target, type, fn, options) {
  target.addEventListener(type, guard(fn), options)
}
