// Consent, Do-Not-Track and Global Privacy Control. Denied means: no identifiers in events, no
// credentials on requests (so no cookie is sent or set), nothing written to localStorage; with
// `denied: 'none'`, nothing sent at all.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network, openPage } from './harness.mjs'

const dnt = (window) => Object.defineProperty(window.navigator, 'doNotTrack', { configurable: true, get: () => '1' })
const gpc = (window) => Object.defineProperty(window.navigator, 'globalPrivacyControl', { configurable: true, get: () => true })
const init = (options) => [['init', { collector: 'https://c.test', ping: 0, ...options }]]

// [case, init options, browser signal, expected: 'anonymous' | 'none' | 'full', consent field]
const table = [
  ['consent denied', { consent: 'denied' }, null, 'anonymous', 'denied'],
  ['consent denied, denied: none', { consent: 'denied', denied: 'none' }, null, 'none'],
  ['Do-Not-Track', {}, dnt, 'anonymous', 'denied'],
  ['Do-Not-Track, denied: none', { denied: 'none' }, dnt, 'none'],
  ['Do-Not-Track not honoured (dnt: false)', { dnt: false }, dnt, 'full', undefined],
  ['Global Privacy Control', {}, gpc, 'anonymous', 'denied'],
  ['Global Privacy Control not honoured (gpc: false)', { gpc: false }, gpc, 'full', undefined],
  ['Do-Not-Track beats consent granted', { consent: 'granted' }, dnt, 'anonymous', 'denied'],
  ['consent granted', { consent: 'granted' }, null, 'full', 'granted'],
  ['consent never reported', {}, null, 'full', undefined],
]

for (const [name, options, signal, expected, consent] of table) {
  test(`${name}: ${expected}`, async () => {
    const page = await openPage({ before: init(options), setup: signal || undefined })
    page.call('identify', 'user-7')
    page.call('track', 'add_to_cart', { sku: 'A' })
    await page.tick(1000)
    page.call('track', 'search', 'at unload')
    const storage = await page.leave()
    const requests = page.network.requests
    if (expected == 'none') {
      assert.deepEqual(requests, [])
      assert.deepEqual(storage, {})
      return
    }
    const events = page.network.delivered
    if (expected == 'anonymous') {
      assert.deepEqual(events.map((e) => e.event_type), ['page_view', 'add_to_cart', 'search'])
      for (const e of events) {
        assert.equal(e.session_id, undefined)
        assert.equal(e.user_id, undefined)
        assert.equal(e.consent, 'denied')
      }
      // at load, after the delay, at unload (fetch: a beacon would carry cookies)
      assert.deepEqual(requests.map((r) => [r.kind, r.init.credentials]), [['fetch', 'omit'], ['fetch', 'omit'], ['fetch', 'omit']])
      assert.equal(requests[2].init.keepalive, true)
      assert.deepEqual(storage, {})
    } else {
      assert.deepEqual(events.map((e) => e.event_type), ['page_view', 'identify', 'add_to_cart', 'search'])
      for (const e of events) {
        assert.ok(e.session_id)
        assert.equal(e.consent, consent)
      }
      assert.equal(events[2].user_id, 'user-7')
      assert.deepEqual(requests.map((r) => r.kind), ['fetch', 'fetch', 'beacon'])
      assert.deepEqual(requests.slice(0, 2).map((r) => r.init.credentials), ['include', 'include'])
      assert.deepEqual(Object.keys(storage).sort(), ['cl_s', 'cl_u'])
    }
  })
}

test('withdrawing consent strips identifiers from queued events and clears storage', async () => {
  const page = await openPage({ before: init({ consent: 'granted' }) }) // page_view sent, granted
  page.call('track', 'search', 'before')
  page.call('identify', 'user-7')
  assert.deepEqual(Object.keys(page.storage()).sort(), ['cl_s', 'cl_u'])
  page.call('consent', 'denied')
  page.call('track', 'search', 'after')
  await page.tick(1000)
  assert.deepEqual(page.storage(), {})
  const events = page.network.delivered
  assert.deepEqual(events.map((e) => [e.event_type, e.consent, e.session_id !== undefined, e.user_id]), [
    ['page_view', 'granted', true, undefined],
    ['search', 'denied', false, undefined], // queued before, sent after: no identifiers
    ['search', 'denied', false, undefined], // the identify in between is dropped
  ])
  assert.equal(page.network.requests[1].init.credentials, 'omit')
})

test('withdrawing consent under denied: none drops the queue and stops sending', async () => {
  const network = Object.assign(new Network(), { online: false })
  const page = await openPage({ before: init({ consent: 'granted', denied: 'none' }), network })
  await page.hide()
  assert.ok(page.storage().cl_q)
  page.call('consent', 'denied')
  assert.deepEqual(page.storage(), {})
  page.call('track', 'search', 'x')
  await page.goOnline()
  await page.tick(5000)
  assert.deepEqual(page.network.requests, [])
})

test('granting consent after a denial starts a session', async () => {
  const page = await openPage({ before: init({ consent: 'denied' }) })
  page.call('consent', 'granted')
  page.call('track', 'search', 'x')
  await page.tick(1000)
  const [view, search] = page.network.delivered
  assert.equal(view.session_id, undefined)
  assert.ok(search.session_id)
  assert.equal(search.consent, 'granted')
})

test('denied and offline: events are not written to storage (nothing is kept on the device)', async () => {
  const page = await openPage({ before: init({ consent: 'denied' }) })
  await page.goOffline()
  const storage = await page.leave()
  assert.deepEqual(storage, {})
})
