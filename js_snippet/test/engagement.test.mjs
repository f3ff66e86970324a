// page_ping: engaged time counts only while the page is visible and the visitor was active in
// the last 15 s. Expected values are worked out by hand from the timeline in each test.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openPage } from './harness.mjs'

const init = (options) => [['init', { collector: 'https://c.test', ...options }]]
const pings = (page) => page.network.delivered.filter((e) => e.event_type == 'page_ping').map((e) => [e.url, e.engaged_ms, e.client_ts.slice(14, 19)])
const at = async (page, seconds) => page.tick(seconds * 1000 - (page.clock.now - Date.UTC(2026, 10, 23, 10, 0, 0)))
const act = (page, type = 'mousemove') => page.document.dispatchEvent(new page.window.Event(type, { bubbles: true }))

test('heartbeats report engaged time; idle and hidden time do not count', async () => {
  const page = await openPage({ before: init({ ping: 15 }) })
  // 0 s load (counts as activity) -> engaged 0..15
  await at(page, 30) // 30 s: idle since 15 s, no ping
  await at(page, 40)
  act(page) // engaged 40..55
  await at(page, 60) // pings at 45 (5 s) and 60 (10 s)
  await at(page, 62)
  act(page, 'keydown') // engaged 62..
  await at(page, 65)
  await page.hide() // hidden at 65: ping 3 s (62..65) at once
  await at(page, 70)
  act(page, 'scroll') // hidden: does not count
  await at(page, 80)
  await page.show() // visible at 80 counts as activity: 80..95
  await at(page, 107) // the 105 s ping is delivered with the 1 s batch delay
  assert.deepEqual(pings(page), [
    ['https://shop.test/home', 15000, '00:15'],
    ['https://shop.test/home', 5000, '00:45'],
    ['https://shop.test/home', 10000, '01:00'],
    ['https://shop.test/home', 3000, '01:05'],
    ['https://shop.test/home', 10000, '01:30'],
    ['https://shop.test/home', 5000, '01:45'],
  ])
})

test('navigating closes the previous page with a ping carrying its URL', async () => {
  const page = await openPage({ before: init({ ping: 15 }) })
  await at(page, 4)
  page.window.history.pushState({}, '', '/next')
  await at(page, 6)
  assert.deepEqual(page.network.delivered.map((e) => [e.event_type, e.url, e.engaged_ms]), [
    ['page_view', 'https://shop.test/home', undefined],
    ['page_ping', 'https://shop.test/home', 4000],
    ['page_view', 'https://shop.test/next', undefined],
  ])
})

test('under a second of engagement waits for the next ping', async () => {
  const page = await openPage({ before: init({ ping: 15 }) })
  await at(page, 0.5)
  await page.hide()
  await at(page, 20)
  await page.show()
  await at(page, 31)
  assert.deepEqual(pings(page), [['https://shop.test/home', 10500, '00:30']])
})

test('ping: 0 sends no page_ping at all', async () => {
  const page = await openPage({ before: init({ ping: 0 }) })
  await at(page, 10)
  page.window.history.pushState({}, '', '/next')
  await page.leave()
  assert.deepEqual(page.network.delivered.map((e) => e.event_type), ['page_view', 'page_view'])
})
