// The snippet runs on other people's pages: whatever breaks around it, nothing is thrown into
// the host page and tracking carries on where it can.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openPage, UUID_V4 } from './harness.mjs'

test('garbage calls are ignored without throwing', async () => {
  const page = await openPage()
  const circular = {}
  circular.self = circular
  const calls = [
    [], [42], [null], ['track'], ['track', 7], ['init', 'nonsense'], ['init', null], ['identify'],
    ['consent', 'maybe'], ['personalize', 'hero', 'not a function'], ['track', 'custom', circular],
    ['track', 'custom', { name: 'big', properties: { n: 10n } }],
  ]
  for (const args of calls) assert.doesNotThrow(() => page.call(...args))
  page.call('track', 'search', 'still works')
  await page.tick(2000)
  assert.deepEqual(page.types(), ['page_view', 'search'])
})

test('storage that throws on every access: events still flow', async () => {
  const page = await openPage({
    setup(window) {
      Object.defineProperty(window, 'localStorage', { configurable: true, get() { throw new window.DOMException('no', 'SecurityError') } })
    },
  })
  page.call('identify', 'u')
  await page.tick(1000)
  assert.deepEqual(page.types(), ['page_view', 'identify'])
})

test('storage over quota: leaving offline keeps events in memory, no throw', async () => {
  const page = await openPage({
    setup(window) {
      window.Storage.prototype.setItem = () => {
        throw new window.DOMException('full', 'QuotaExceededError')
      }
    },
  })
  await page.goOffline()
  await page.hide()
  page.network.online = true
  await page.show()
  assert.deepEqual(page.types(), ['page_view'])
})

test('fetch throwing synchronously counts as a failed send and is retried', async () => {
  const page = await openPage()
  const original = page.window.fetch
  page.window.fetch = () => {
    page.window.fetch = original
    throw new TypeError('blocked by CSP')
  }
  await page.tick(3000)
  assert.deepEqual(page.types(), ['page_view'])
  assert.equal(page.network.requests.length, 1)
})

test('sendBeacon throwing at unload keeps the events for the next page', async () => {
  const page = await openPage()
  page.window.navigator.sendBeacon = () => {
    throw new TypeError('beacon broken')
  }
  page.call('track', 'search', 'x')
  const storage = await page.leave()
  assert.deepEqual(JSON.parse(storage.cl_q).map((e) => e.event_type), ['search'])
})

test('a render callback that throws is contained and records nothing', async () => {
  const page = await openPage()
  page.network.decide.hero = { decision_id: 'd', slot: 'hero', variant: 'v' }
  assert.doesNotThrow(() => page.call('personalize', 'hero', () => { throw new Error('site bug') }))
  await page.tick(1000)
  assert.deepEqual(page.types(), ['page_view'])
})

test('without crypto.randomUUID (plain http) event ids are still UUID v4', async () => {
  for (const crypto of [{ getRandomValues: (a) => globalThis.crypto.getRandomValues(a) }, undefined]) {
    const page = await openPage({ setup: (window) => Object.defineProperty(window, 'crypto', { configurable: true, value: crypto }) })
    page.call('track', 'search', 'x')
    await page.tick(1000)
    const ids = page.network.delivered.map((e) => e.event_id)
    for (const id of ids) assert.match(id, UUID_V4)
    assert.notEqual(ids[0], ids[1])
  }
})

test('console stays quiet unless debug is on; then every ignored call says why', async () => {
  for (const debug of [false, true]) {
    const warnings = []
    const page = await openPage({
      before: [['init', { collector: 'https://c.test', ping: 0, debug }]],
      setup: (window) => (window.console.warn = (...args) => warnings.push(args.join(' '))),
    })
    page.call('nope')
    await page.goOffline()
    page.call('track', 'search', 'x')
    await page.tick(1000)
    const answer = 'clickloop: HTTP 200 {"accepted":1,"rejected":[]}'
    assert.deepEqual(warnings, debug ? [answer, 'clickloop: command nope', 'clickloop: offline '] : [])
  }
})
