// The loader's command queue: calls made before the script loads are replayed, settings first.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { code, openPage, STUB } from './harness.mjs'

test('queued calls replay in order, after init and the automatic page_view', async () => {
  const page = await openPage({
    before: [
      ['track', 'add_to_cart', { sku: 'SKU-1', price: 10, currency: 'EUR' }],
      ['init', { collector: 'https://c.test', ping: 0 }],
      ['identify', 'user-7'],
      ['track', 'search', 'red shoes'],
    ],
  })
  await page.tick(1000)
  assert.deepEqual(page.types(), ['page_view', 'add_to_cart', 'identify', 'search'])
  const [view, cart, identify, search] = page.network.delivered
  assert.equal(view.user_id, undefined)
  assert.deepEqual(cart.product, { sku: 'SKU-1', price: 10, currency: 'EUR' })
  assert.equal(cart.user_id, undefined)
  assert.equal(identify.user_id, 'user-7')
  assert.equal(search.user_id, 'user-7')
  assert.equal(search.query, 'red shoes')
  assert.equal(page.network.posts().length, 1)
})

test('a consent call queued after tracking calls still governs the first page_view', async () => {
  const page = await openPage({
    before: [
      ['init', { collector: 'https://c.test', ping: 0 }],
      ['track', 'product_view', { sku: 'SKU-1' }],
      ['consent', 'denied'],
    ],
  })
  await page.tick(1000)
  assert.deepEqual(page.types(), ['page_view', 'product_view'])
  for (const event of page.network.delivered) {
    assert.equal(event.consent, 'denied')
    assert.equal(event.session_id, undefined)
  }
})

test('after load the stub is replaced and calls act at once', async () => {
  const page = await openPage()
  assert.equal(page.window.clickloop.q, undefined)
  page.call('track', 'search', 'socks')
  await page.tick(1000)
  assert.deepEqual(page.types(), ['page_view', 'search'])
})

test('loading the script twice installs it once', async () => {
  const page = await openPage()
  page.window.eval(code)
  await page.tick(1000)
  assert.deepEqual(page.types(), ['page_view'])
})

test('the only global the snippet adds is clickloop', async () => {
  let before
  const page = await openPage({ setup: (window) => (before = new Set(Object.keys(window))) })
  const added = Object.keys(page.window).filter((key) => !before.has(key))
  assert.deepEqual(added, ['clickloop'])
  assert.equal(STUB.includes('clickloop'), true)
})

test('unknown commands are ignored and later calls still work', async () => {
  const page = await openPage()
  page.call('no-such-command', 1)
  page.call()
  page.call('track', 'search', 'hats')
  await page.tick(1000)
  assert.deepEqual(page.types(), ['page_view', 'search'])
})

test('<script data-*> configures the snippet; the collector defaults to the script origin', async () => {
  const page = await openPage({
    before: [],
    setup(window) {
      const script = window.document.createElement('script')
      script.src = 'https://collector.test/v1/clickloop.js'
      script.setAttribute('data-ping', '0')
      script.setAttribute('data-consent', 'granted')
      script.setAttribute('data-delay', '50')
      Object.defineProperty(window.document, 'currentScript', { configurable: true, get: () => script })
    },
  })
  page.call('track', 'search', 'x')
  await page.tick(50)
  const [first, second] = page.network.posts()
  assert.equal(first.url, 'https://collector.test/v1/events')
  assert.equal(first.events[0].consent, 'granted')
  assert.equal(second.at, Date.UTC(2026, 10, 23, 10, 0, 0, 50)) // data-delay="50"
  assert.equal(page.network.requests[0].init.keepalive, true)
})

test('an init call overrides the script attributes', async () => {
  const page = await openPage({
    before: [['init', { collector: 'https://other.test/', ping: 0 }]],
    setup(window) {
      const script = window.document.createElement('script')
      script.src = 'https://collector.test/v1/clickloop.js'
      Object.defineProperty(window.document, 'currentScript', { configurable: true, get: () => script })
    },
  })
  await page.tick(1000)
  assert.equal(page.network.posts()[0].url, 'https://other.test/v1/events')
})

test('a broken init call before load does not stop the snippet from starting', async () => {
  const page = await openPage({
    before: [
      ['init', { collector: 'https://c.test', ping: 0 }],
      ['init', { get delay() { throw new Error('hostile getter') } }],
    ],
  })
  await page.tick(1000)
  assert.deepEqual(page.types(), ['page_view'])
})
