// The bounded localStorage queue: what cannot be sent when the page goes away is kept, and the
// next page (or this one, visible again) sends it first: once, in order.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Clock, Network, openPage } from './harness.mjs'

const stored = (storage) => JSON.parse(storage.cl_q || '[]')
/** The network as the page will find it when it loads. */
const network = (mode, online = true) => Object.assign(new Network(), { mode, online })

test('online: leaving the page beacons the pending events, nothing is stored', async () => {
  const page = await openPage()
  page.call('track', 'search', 'x')
  const storage = await page.leave()
  const [first, beacon] = page.network.requests
  assert.equal(first.kind, 'fetch')
  assert.equal(beacon.kind, 'beacon')
  assert.equal(beacon.url, 'https://c.test/v1/events')
  assert.deepEqual(beacon.events.map((e) => e.event_type), ['search'])
  assert.equal(storage.cl_q, undefined)
})

test('offline: leaving stores the events; the next page sends them before its own, once', async () => {
  const first = await openPage()
  await first.tick(1000)
  await first.goOffline()
  first.call('track', 'add_to_cart', { sku: 'A' })
  first.call('track', 'add_to_cart', { sku: 'B' })
  const storage = await first.leave()
  assert.deepEqual(stored(storage).map((e) => e.product.sku), ['A', 'B'])
  assert.equal(first.network.requests.length, 1)

  const clock = new Clock(first.clock.now + 5000)
  const second = await openPage({ url: 'https://shop.test/cart', storage, clock })
  assert.equal(second.storage().cl_q, undefined)
  await second.tick(1000)
  const [post] = second.network.posts()
  assert.deepEqual(post.events.map((e) => e.product?.sku || e.url), ['A', 'B', 'https://shop.test/cart'])
  const third = await openPage({ storage: await second.leave(), clock })
  await third.tick(1000)
  assert.deepEqual(third.types(), ['page_view'])
})

test('offline twice: the second page adds to the stored queue', async () => {
  const first = await openPage({ network: network('ok', false) })
  const afterFirst = await first.leave()
  const second = await openPage({ url: 'https://shop.test/2', storage: afterFirst, clock: first.clock, network: network('ok', false) })
  const afterSecond = await second.leave()
  assert.deepEqual(stored(afterSecond).map((e) => e.url), ['https://shop.test/home', 'https://shop.test/2'])
})

test('a refused beacon keeps the events', async () => {
  const page = await openPage()
  page.network.beaconResult = false
  page.call('track', 'search', 'x')
  const storage = await page.leave()
  assert.deepEqual(stored(storage).map((e) => e.event_type), ['search'])
})

test('while the collector is failing, leaving stores instead of beaconing into the void', async () => {
  const page = await openPage({ network: network(503) })
  const storage = await page.leave()
  assert.equal(page.network.requests.filter((r) => r.kind == 'beacon').length, 0)
  assert.deepEqual(stored(storage).map((e) => e.event_type), ['page_view'])
})

test('hidden while offline, visible and online again: the stored events come back and go once', async () => {
  const page = await openPage({ network: network('ok', false) })
  await page.hide()
  assert.deepEqual(stored(page.storage()).map((e) => e.event_type), ['page_view'])
  page.network.online = true
  await page.show()
  assert.equal(page.storage().cl_q, undefined)
  assert.deepEqual(page.types(), ['page_view'])
  await page.tick(60000)
  assert.equal(page.network.delivered.length, 1)
})

test('the queue is bounded: past `queue` events the oldest are dropped', async () => {
  const page = await openPage({ before: [['init', { collector: 'https://c.test', ping: 0, queue: 3, auto: false }]] })
  await page.goOffline()
  for (const sku of ['A', 'B', 'C', 'D', 'E']) page.call('track', 'add_to_cart', { sku })
  const storage = await page.leave()
  assert.deepEqual(stored(storage).map((e) => e.product.sku), ['C', 'D', 'E'])
  const next = await openPage({
    before: [['init', { collector: 'https://c.test', ping: 0, queue: 3, auto: false }]],
    storage,
    clock: page.clock,
    network: network('ok', false),
  })
  next.call('track', 'add_to_cart', { sku: 'F' })
  assert.deepEqual(stored(await next.leave()).map((e) => e.product.sku), ['D', 'E', 'F'])
})

for (const junk of ['not json', '{"events":1}', 'null', '42']) {
  test(`a corrupt stored queue (${junk}) is ignored`, async () => {
    const page = await openPage({ storage: { cl_q: junk } })
    await page.tick(1000)
    assert.deepEqual(page.types(), ['page_view'])
  })
}

// Chrome may run the previous page's pagehide after this page has started (a new document per
// navigation), so its stored events can appear after our boot.
const earlier = {
  schema_version: 1,
  event_id: '6f1c2b1e-7d2a-4c55-9a0e-3b8f7e1d2c4a',
  event_type: 'add_to_cart',
  client_ts: '2026-11-23T09:59:59.000Z',
  url: 'https://shop.test/product',
  product: { sku: 'LATE' },
}

function previousPageWrites(page) {
  const value = JSON.stringify([earlier])
  page.window.localStorage.setItem('cl_q', value)
  page.window.dispatchEvent(new page.window.StorageEvent('storage', { key: 'cl_q', newValue: value }))
}

test('a queue the previous page writes after this one started is taken over, ahead of ours', async () => {
  const page = await openPage({ network: network('ok', false) })
  previousPageWrites(page)
  assert.equal(page.storage().cl_q, undefined)
  await page.goOnline()
  assert.deepEqual(page.types(), ['add_to_cart', 'page_view'])
  await page.tick(60000)
  assert.equal(page.network.delivered.length, 2)
})

test('without a storage event, the late queue is taken over at the next send', async () => {
  const page = await openPage()
  page.window.localStorage.setItem('cl_q', JSON.stringify([earlier]))
  page.call('track', 'search', 'x')
  await page.tick(1000)
  assert.deepEqual(page.network.posts().map((p) => p.events.map((e) => e.event_type)), [['page_view'], ['add_to_cart', 'search']])
  assert.equal(page.storage().cl_q, undefined)
})

test('a hidden page leaves the stored queue to a visible one', async () => {
  const page = await openPage()
  await page.tick(1000)
  await page.hide()
  previousPageWrites(page)
  page.call('track', 'search', 'while hidden')
  await page.tick(1000)
  assert.deepEqual(JSON.parse(page.storage().cl_q).map((e) => e.product.sku), ['LATE'])
  assert.deepEqual(page.types(), ['page_view', 'search'])
})

test('a hidden page (e.g. frozen in the back/forward cache) does not take the queue when online fires', async () => {
  const page = await openPage({ network: network('ok', false) })
  await page.hide()
  const stored = page.storage().cl_q
  assert.ok(stored)
  await page.goOnline()
  assert.equal(page.storage().cl_q, stored)
  assert.deepEqual(page.network.requests, [])
})
