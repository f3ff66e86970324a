// Batching: events wait `delay` ms for company, go `batch` at a time, in order, as text/plain.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openPage, START } from './harness.mjs'

test('events within the delay share one request, sent when the delay ends', async () => {
  const page = await openPage()
  await page.tick(200)
  page.call('track', 'add_to_cart', { sku: 'A' })
  await page.tick(300)
  page.call('track', 'search', 'b')
  await page.tick(499)
  assert.equal(page.network.requests.length, 0)
  await page.tick(1)
  const [post] = page.network.requests
  assert.equal(post.at, START + 1000)
  assert.equal(post.url, 'https://c.test/v1/events')
  assert.equal(post.init.method, 'POST')
  assert.equal(typeof post.init.body, 'string') // a string body is text/plain: no CORS preflight
  assert.equal(post.init.headers, undefined)
  assert.equal(post.init.keepalive, true)
  assert.equal(post.init.credentials, 'include')
  assert.deepEqual(post.events.map((e) => e.event_type), ['page_view', 'add_to_cart', 'search'])
  assert.deepEqual(post.events.map((e) => e.sent_ts), Array(3).fill('2026-11-23T10:00:01.000Z'))
})

test('a full batch goes at once; the rest follow in order, batch by batch', async () => {
  const page = await openPage({ before: [['init', { collector: 'https://c.test', ping: 0, batch: 4 }]] })
  for (let i = 1; i <= 9; i++) page.call('track', 'custom', { name: 'n' + i })
  await page.tick(0)
  await page.tick(1000)
  const posts = page.network.posts()
  assert.deepEqual(posts.map((p) => p.events.map((e) => e.name || e.event_type)), [
    ['page_view', 'n1', 'n2', 'n3'],
    ['n4', 'n5', 'n6', 'n7'],
    ['n8', 'n9'],
  ])
  assert.equal(posts[0].at, START)
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
  await page.tick(1000)
  page.call('track', 'search', 'while busy')
  await page.tick(1000)
  assert.equal(page.network.requests.length, 1)
  release()
  await page.tick(0)
  await page.tick(1)
  assert.deepEqual(page.network.posts().map((p) => p.events.map((e) => e.event_type)), [['page_view'], ['search']])
})

test('flush sends what is pending without waiting for the delay', async () => {
  const page = await openPage()
  page.call('flush')
  await page.tick(0)
  assert.equal(page.network.posts()[0].at, START)
})
