// Retry: failures put the batch back at the head of the queue and retry with backoff; an event
// is delivered exactly once, in order.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Network, openPage, START } from './harness.mjs'

const attempts = (page) => page.network.posts().map((p) => (p.at - START) / 1000)
/** The network as the page will find it when it loads. */
const network = (mode, online = true) => Object.assign(new Network(), { mode, online })

test('a network error is retried after 2 s, then 4 s, and delivered once', async () => {
  const page = await openPage({ network: network('down') })
  await page.tick(1999)
  assert.deepEqual(attempts(page), [0])
  await page.tick(1)
  assert.deepEqual(attempts(page), [0, 2])
  page.network.mode = 'ok'
  await page.tick(4000)
  assert.deepEqual(attempts(page), [0, 2, 6])
  await page.tick(60000)
  assert.deepEqual(page.types(), ['page_view'])
  const [event] = page.network.delivered
  assert.equal(event.client_ts, '2026-11-23T10:00:00.000Z')
  assert.equal(event.sent_ts, '2026-11-23T10:00:06.000Z')
})

test('backoff doubles up to 60 s and resets after a success', async () => {
  const page = await openPage({ network: network('down') })
  await page.tick(182000)
  assert.deepEqual(attempts(page), [0, 2, 6, 14, 30, 62, 122, 182])
  page.network.mode = 'ok'
  await page.tick(60000)
  page.call('track', 'search', 'after')
  await page.tick(1000)
  assert.deepEqual(attempts(page).slice(-2), [242, 243])
  assert.deepEqual(page.types(), ['page_view', 'search'])
})

for (const [status, retried] of [[500, true], [503, true], [429, true], [408, true], [400, false], [413, false]]) {
  test(`HTTP ${status} is ${retried ? 'retried' : 'final: the batch is dropped, later events still go'}`, async () => {
    const page = await openPage({ network: network(status) })
    page.network.mode = 'ok'
    page.call('track', 'search', 'next')
    await page.tick(3000)
    assert.deepEqual(page.types(), retried ? ['page_view', 'search'] : ['search'])
    assert.equal(page.network.posts().length, 2)
  })
}

test('events tracked during backoff queue behind the failed batch', async () => {
  const page = await openPage({ network: network('down') })
  page.call('track', 'add_to_cart', { sku: 'A' })
  page.call('track', 'add_to_cart', { sku: 'B' })
  page.network.mode = 'ok'
  await page.tick(2000)
  assert.deepEqual(page.network.delivered.map((e) => e.product?.sku || e.event_type), ['page_view', 'A', 'B'])
  await page.tick(60000)
  assert.equal(page.network.delivered.length, 3)
})

test('offline: nothing is attempted; back online everything goes at once, in order', async () => {
  const page = await openPage({ network: network('ok', false) })
  await page.tick(120000)
  page.call('track', 'search', 'offline')
  await page.tick(120000)
  assert.equal(page.network.requests.length, 0)
  await page.goOnline()
  assert.deepEqual(attempts(page), [240])
  assert.deepEqual(page.types(), ['page_view', 'search'])
})

test('the online event cuts a running backoff short', async () => {
  const page = await openPage({ network: network('down') })
  await page.tick(14000)
  assert.deepEqual(attempts(page), [0, 2, 6, 14])
  page.network.mode = 'ok'
  await page.tick(1000)
  await page.goOnline()
  assert.deepEqual(attempts(page), [0, 2, 6, 14, 15])
  await page.tick(60000)
  assert.deepEqual(page.types(), ['page_view'])
})

test('a request still in flight at pagehide is not sent again, though the page sees it fail', async () => {
  // Chrome rejects the page's fetch promise on unload while it still delivers the keepalive
  // request; the next page must not resend those events.
  const page = await openPage()
  let reject
  const original = page.window.fetch
  page.window.fetch = (url, init) => {
    page.window.fetch = original
    page.network.requests.push({ url, init, kind: 'fetch', events: JSON.parse(init.body).events })
    return new Promise((_, no) => (reject = no))
  }
  page.call('track', 'search', 'in flight')
  await page.tick(1000)
  page.window.dispatchEvent(new page.window.Event('pagehide'))
  reject(new TypeError('Failed to fetch'))
  await page.tick(0)
  await page.hide() // Chrome fires visibilitychange after pagehide: it would store a requeued batch
  assert.equal(page.storage().cl_q, undefined)
  await page.tick(60000)
  assert.deepEqual(page.network.requests.map((r) => r.events.map((e) => e.event_type)), [['page_view'], ['search']])
})

test('a 503 answered after pagehide keeps the batch for the next page', async () => {
  const page = await openPage()
  let answer
  const original = page.window.fetch
  page.window.fetch = (url, init) => {
    page.window.fetch = original
    return new Promise((resolve) => (answer = () => resolve({ status: 503, ok: false, url, text: () => Promise.resolve('') })))
  }
  page.call('track', 'search', 'in flight')
  await page.tick(1000)
  page.window.dispatchEvent(new page.window.Event('pagehide'))
  answer()
  await page.tick(0)
  assert.deepEqual(JSON.parse(page.storage().cl_q).map((e) => e.event_type), ['search'])
})

test('back from the back/forward cache, failures are retried again', async () => {
  const page = await openPage()
  page.window.dispatchEvent(new page.window.Event('pagehide'))
  page.window.dispatchEvent(new page.window.Event('pageshow'))
  page.network.mode = 'down'
  page.call('track', 'search', 'x')
  await page.tick(1000)
  page.network.mode = 'ok'
  await page.tick(2000)
  assert.deepEqual(page.types(), ['page_view', 'search'])
})
