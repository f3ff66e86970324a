// Test pages for the snippet: a jsdom window with a fake clock, a scripted network and the
// exact minified bundle we ship, loaded the way a site loads it (stub first, then the script).

import { JSDOM } from 'jsdom'
import { bundle } from '../build.mjs'

export const code = await bundle()

export const START = Date.UTC(2026, 10, 23, 10, 0, 0) // 2026-11-23T10:00:00.000Z
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
export const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
export const STUB = 'window.clickloop=window.clickloop||function(){(clickloop.q=clickloop.q||[]).push(arguments)}'

const settle = () => new Promise((resolve) => setImmediate(resolve))

/** Virtual time for one page: timers run only inside `tick`, in due order. */
export class Clock {
  constructor(now = START) {
    this.now = now
    this.timers = new Map()
    this.next = 1
  }

  install(window) {
    const clock = this
    const RealDate = window.Date
    window.Date = class extends RealDate {
      constructor(...args) {
        super(...(args.length ? args : [clock.now]))
      }
      static now() {
        return clock.now
      }
    }
    window.setTimeout = (fn, ms = 0) => this.add(fn, ms, 0)
    window.setInterval = (fn, ms = 0) => this.add(fn, ms, ms)
    window.clearTimeout = window.clearInterval = (id) => this.timers.delete(id)
  }

  add(fn, ms, every) {
    const id = this.next++
    this.timers.set(id, { at: this.now + Math.max(0, ms), fn, every })
    return id
  }

  /** Advance `ms`, running due timers in order and letting promise chains finish. */
  async tick(ms = 0) {
    const end = this.now + ms
    await settle()
    for (;;) {
      let due = null
      for (const [id, t] of this.timers) if (t.at <= end && (!due || t.at < due[1].at)) due = [id, t]
      if (!due) break
      const [id, t] = due
      this.now = t.at
      if (t.every) t.at += t.every
      else this.timers.delete(id)
      t.fn()
      await settle()
    }
    this.now = end
    await settle()
  }
}

/**
 * The collector and decision API as the page sees them. `mode`: 'ok' (200), 'down' (network
 * error) or an HTTP status; `decide[slot]` answers /v1/decide (a decision object, a status, or
 * 'hang' for no answer).
 */
export class Network {
  constructor() {
    this.mode = 'ok'
    this.online = true
    this.beaconResult = true
    this.requests = [] // every fetch/beacon: {url, init, kind, events}
    this.delivered = [] // events in requests answered 2xx or beaconed
    this.decide = {}
    this.hanging = []
  }

  install(window) {
    window.fetch = (url, init = {}) => this.fetch(url, init)
    window.navigator.sendBeacon = (url, data) => {
      const request = { url, kind: 'beacon', body: data, events: JSON.parse(data).events, at: this.clock.now }
      this.requests.push(request)
      if (this.beaconResult) this.delivered.push(...request.events)
      return this.beaconResult
    }
    Object.defineProperty(window.navigator, 'onLine', { configurable: true, get: () => this.online })
  }

  fetch(url, init) {
    const request = { url, init, kind: 'fetch', at: this.clock.now }
    this.requests.push(request)
    if (url.includes('/v1/decide')) return this.answerDecide(url, init)
    request.events = JSON.parse(init.body).events
    if (!this.online || this.mode == 'down') return Promise.reject(new TypeError('Failed to fetch'))
    const status = this.mode == 'ok' ? 200 : this.mode
    if (status < 300) this.delivered.push(...request.events)
    const answer = JSON.stringify({ accepted: request.events.length, rejected: [] })
    return Promise.resolve({ status, ok: status < 300, url, text: () => Promise.resolve(answer) })
  }

  answerDecide(url, init) {
    const many = new URL(url).searchParams.get('slots')
    if (many) {
      // all of a page's slots at once: any slot failing fails the request, as the API does
      const answers = many.split(',').map((slot) => this.decide[slot])
      const bad = answers.find((a) => a === undefined || a === 'down' || typeof a == 'number')
      if (bad === undefined && answers.every((a) => typeof a == 'object')) return Promise.resolve(this.ok(url, { decisions: answers }))
      if (typeof bad == 'number') return Promise.resolve({ status: bad, ok: false, url })
      return Promise.reject(new TypeError('Failed to fetch'))
    }
    const slot = new URL(url).searchParams.get('slot')
    const answer = this.decide[slot]
    if (answer === 'hang') return new Promise((resolve) => this.hanging.push(() => resolve(this.ok(url, { decision_id: 'late', slot, variant: 'late', content: { html: 'LATE' } }))))
    if (answer === undefined || answer === 'down') return Promise.reject(new TypeError('Failed to fetch'))
    if (typeof answer == 'number') return Promise.resolve({ status: answer, ok: false, url })
    return Promise.resolve(this.ok(answer.url || url, answer.body || answer))
  }

  ok(url, body) {
    return { status: 200, ok: true, url, json: () => Promise.resolve(body) }
  }

  /** Requests to the collector (not the decision API). */
  posts() {
    return this.requests.filter((r) => r.events)
  }
}

/**
 * Load a page: `html` in the body, `before` commands queued before the script loads,
 * `storage` copied into localStorage first (a reload), `setup(window)` run before the script.
 */
export async function openPage({
  url = 'https://shop.test/home',
  html = '',
  title = 'Home',
  referrer = '',
  before = [['init', { collector: 'https://c.test', ping: 0 }]],
  storage = {},
  clock = new Clock(),
  network = new Network(),
  setup,
} = {}) {
  const dom = new JSDOM(`<!doctype html><html><head><title>${title}</title></head><body>${html}</body></html>`, {
    url,
    referrer: referrer || undefined,
    runScripts: 'outside-only',
    pretendToBeVisual: true,
  })
  const window = dom.window
  clock.install(window)
  network.clock = clock
  network.install(window)
  for (const [key, value] of Object.entries(storage)) window.localStorage.setItem(key, value)
  let visibility = 'visible'
  Object.defineProperty(window.document, 'visibilityState', { configurable: true, get: () => visibility })
  Object.defineProperty(window.document, 'hidden', { configurable: true, get: () => visibility == 'hidden' })
  if (setup) setup(window)
  window.eval(STUB)
  for (const args of before) window.clickloop(...args)
  window.eval(code)
  await clock.tick(0)
  const page = {
    window,
    document: window.document,
    clock,
    network,
    /** Run a command the way a site would. */
    call: (...args) => window.clickloop(...args),
    tick: (ms) => clock.tick(ms),
    async hide() {
      visibility = 'hidden'
      window.document.dispatchEvent(new window.Event('visibilitychange'))
      await clock.tick(0)
    },
    async show() {
      visibility = 'visible'
      window.document.dispatchEvent(new window.Event('visibilitychange'))
      await clock.tick(0)
    },
    /** Leave the page: hidden, then pagehide; returns localStorage for the next page. */
    async leave() {
      await page.hide()
      window.dispatchEvent(new window.Event('pagehide'))
      await clock.tick(0)
      const kept = { ...window.localStorage }
      window.close()
      return kept
    },
    async goOffline() {
      network.online = false
      window.dispatchEvent(new window.Event('offline'))
      await clock.tick(0)
    },
    async goOnline() {
      network.online = true
      window.dispatchEvent(new window.Event('online'))
      await clock.tick(0)
    },
    storage: () => ({ ...window.localStorage }),
    types: () => network.delivered.map((e) => e.event_type),
    click(selector, options = {}) {
      const el = window.document.querySelector(selector)
      el.dispatchEvent(new window.MouseEvent(options.type || 'click', { bubbles: true, cancelable: true, button: options.button || 0 }))
    },
  }
  return page
}
