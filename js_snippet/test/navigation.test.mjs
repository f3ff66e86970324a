// Single-page-app navigation: pushState, replaceState, popstate and (opt-in) hashchange.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openPage } from './harness.mjs'

const views = (page) => page.network.delivered.filter((e) => e.event_type == 'page_view').map((e) => [e.url, e.referrer || ''])
const realWait = () => new Promise((resolve) => setTimeout(resolve, 20))

test('pushState and replaceState to a new URL send a page_view referring to the previous one', async () => {
  const page = await openPage({ referrer: 'https://search.test/' })
  page.window.history.pushState({}, '', '/products?c=shoes')
  page.document.title = 'Shoes'
  page.window.history.replaceState({}, '', '/products?c=boots')
  await page.tick(1000)
  assert.deepEqual(views(page), [
    ['https://shop.test/home', 'https://search.test/'],
    ['https://shop.test/products?c=shoes', 'https://shop.test/home'],
    ['https://shop.test/products?c=boots', 'https://shop.test/products?c=shoes'],
  ])
  assert.equal(page.network.delivered[2].title, 'Shoes')
})

test('replaceState to the same URL (state only) sends nothing', async () => {
  const page = await openPage()
  page.window.history.replaceState({ scroll: 10 }, '')
  page.window.history.replaceState({ scroll: 20 }, '', '/home')
  await page.tick(1000)
  assert.equal(views(page).length, 1)
})

test('back and forward (popstate) send page views', async () => {
  const page = await openPage()
  page.window.history.pushState({}, '', '/a')
  page.window.history.back()
  await realWait()
  await page.tick(1000)
  assert.deepEqual(views(page), [
    ['https://shop.test/home', ''],
    ['https://shop.test/a', 'https://shop.test/home'],
    ['https://shop.test/home', 'https://shop.test/a'],
  ])
})

test('hash changes are not page views unless hash routing is configured', async () => {
  const plain = await openPage()
  plain.window.location.hash = '#reviews'
  plain.window.history.pushState({}, '', '#specs')
  await realWait()
  await plain.tick(1000)
  assert.equal(views(plain).length, 1)

  const hashed = await openPage({ before: [['init', { collector: 'https://c.test', ping: 0, hash: true }]] })
  hashed.window.location.hash = '#/cart'
  await realWait()
  await hashed.tick(1000)
  assert.deepEqual(views(hashed), [
    ['https://shop.test/home', ''],
    ['https://shop.test/home#/cart', 'https://shop.test/home'],
  ])
})

test('auto: false sends no page_view by itself; track("page_view") sends one with overrides', async () => {
  const page = await openPage({ before: [['init', { collector: 'https://c.test', ping: 0, auto: false }]] })
  page.window.history.pushState({}, '', '/x')
  await page.tick(1000)
  assert.deepEqual(page.network.requests, [])
  page.call('track', 'page_view', { title: 'Virtual' })
  await page.tick(1000)
  assert.deepEqual(page.network.delivered.map((e) => [e.event_type, e.url, e.title]), [['page_view', 'https://shop.test/x', 'Virtual']])
})

test('the history wrappers keep the original behaviour, result and errors', async () => {
  const page = await openPage()
  const result = page.window.history.pushState({ n: 1 }, '', '/kept')
  assert.equal(result, undefined)
  assert.deepEqual(page.window.history.state, { n: 1 })
  assert.throws(() => page.window.history.pushState({}, '', 'https://elsewhere.test/'), (e) => e.name == 'SecurityError')
  await page.tick(1000)
  assert.deepEqual(views(page).map(([url]) => url), ['https://shop.test/home', 'https://shop.test/kept'])
})
