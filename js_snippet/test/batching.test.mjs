// Batching: a page's first batch goes at once (its answer sets the visitor cookie); later events
// wait `delay` ms for company and go `batch` at a time, in order, as text/plain.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openPage, START } from './harness.mjs'

const sent = (page) => page.network.posts().map((p) => [p.at - START, p.events.map((e) => e.name || e.event_type)])

test('the first batch goes at once, as text/plain with credentials', async () => {
  const page = await openPage()
  const [post] = page.network.requests
  assert.equal(post.at, START)
  assert.equal(post.url, 'https://c.test/v1/events')
  assert.equal(post.init.method, 'POST')
  assert.equal(typeof post.init.body, 'string') // a string body is text/plain: no CORS preflight
  assert.equal(post.init.headers, undefined)
  assert.equal(post.init.keepalive, true)
  assert.equal(post.init.credentials, 'include')
  assert.deepEqual(sent(page), [[0, ['page_view']]])
  assert.equal(post.events[0].sent_ts, '2026-11-23T10:00:00.000Z')
})

test('later events within the delay share one request, sent when the delay ends', async () => {
  const page = await openPage()
  await page.tick(200)
  page.call('track', 'add_to_cart', { sku: 'A' })
  await page.tick(300)
  page.call('track', 'search', 'b')
  await page.tick(699)
  assert.equal(page.network.requests.length, 1)
  await page.tick(1)
  assert.deepEqual(sent(page), [[0, ['page_view']], [1200, ['add_to_cart', 'search']]])
  assert.deepEqual(page.network.posts()[1].events.map((e) => e.sent_ts), Array(2).fill('2026-11-23T10:00:01.200Z'))
})

test('calls queued before load go in the first batch with the page view', async () => {
  const page = await openPage({
    before: [['init', { collector: 'https://c.test', ping: 0 }], ['track', 'search', 'early']],
  })
  assert.deepEqual(sent(page), [[0, ['page_view', 'search']]])
})

test('a full batch goes at once; the rest follow in order, batch by batch', async () => {
  const page = await openPage({ before: [['init', { collector: 'https://c.test', ping: 0, batch: 4 }]] })
  for (let i = 1; i <= 9; i++) page.call('track', 'custom', { name: 'n' + i })
  await page.tick(1000)
  assert.deepEqual(sent(page), [
    [0, ['page_view']],
    [0, ['n1', 'n2', 'n3', 'n4']],
    [1, ['n5', 'n6', 'n7', 'n8']],
    [2, ['n9']],
  ])
  assert.equal(new Set(page.network.delivered.map((e) => e.event_id)).size, 10)
})

test('an event tracked while a request is in flight goes in the next one', async () => {
  const page = await openPage()
  let release
  const original = page.window.fetch
  page.window.fetch = (url, init) => {
    page.window.fetch = original
    const answer = original(url, init)
    return new Promise((resolve) => (release = () => resolve(answer)))
  }
  page.call('track', 'search', 'first')
  await page.tick(1000)
  page.call('track', 'search', 'while busy')
  await page.tick(1000)
  assert.equal(page.network.requests.length, 2)
  release() // the timer came while busy: the next batch follows the answer
  await page.tick(1)
  assert.deepEqual(sent(page), [[0, ['page_view']], [1000, ['search']], [2001, ['search']]])
})

test('flush sends what is pending without waiting for the delay', async () => {
  const page = await openPage()
  await page.tick(100)
  page.call('track', 'search', 'now')
  page.call('flush')
  await page.tick(0)
  assert.deepEqual(sent(page), [[0, ['page_view']], [100, ['search']]])
})
