// Sessions: a client-side id with a 30-minute sliding expiry, shared by pages through storage.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Clock, openPage } from './harness.mjs'

const MINUTE = 60000

test('activity within 30 minutes keeps the session, sliding', async () => {
  const page = await openPage()
  for (let i = 0; i < 3; i++) {
    await page.tick(29 * MINUTE)
    page.call('track', 'search', 'q' + i)
  }
  await page.tick(1000)
  const ids = page.network.delivered.map((e) => e.session_id)
  assert.equal(ids.length, 4)
  assert.equal(new Set(ids).size, 1)
})

test('30 minutes without an event start a new session', async () => {
  const page = await openPage()
  await page.tick(30 * MINUTE)
  page.call('track', 'search', 'later')
  await page.tick(1000)
  const [a, b] = page.network.delivered.map((e) => e.session_id)
  assert.notEqual(a, b)
  assert.match(b, /^[0-9a-f-]{36}$/)
})

test('the next page continues the session; after the gap it starts a new one', async () => {
  const first = await openPage()
  const storage = await first.leave()
  const second = await openPage({ storage, clock: new Clock(first.clock.now + 29 * MINUTE) })
  const third = await openPage({ storage: await second.leave(), clock: new Clock(second.clock.now + 31 * MINUTE) })
  await third.tick(1000)
  const [a] = first.network.delivered
  const [b] = second.network.delivered
  const [c] = third.network.delivered
  assert.equal(a.session_id, b.session_id)
  assert.notEqual(b.session_id, c.session_id)
})

test('the session length is configurable', async () => {
  const page = await openPage({ before: [['init', { collector: 'https://c.test', ping: 0, session: 5 }]] })
  await page.tick(5 * MINUTE)
  page.call('track', 'search', 'x')
  await page.tick(1000)
  const [a, b] = page.network.delivered.map((e) => e.session_id)
  assert.notEqual(a, b)
})

test('without localStorage the session lives in memory for the page', async () => {
  const page = await openPage({
    setup(window) {
      Object.defineProperty(window, 'localStorage', { configurable: true, get() { throw new window.DOMException('denied', 'SecurityError') } })
    },
  })
  page.call('track', 'search', 'x')
  await page.tick(1000)
  const [a, b] = page.network.delivered.map((e) => e.session_id)
  assert.ok(a)
  assert.equal(a, b)
})
