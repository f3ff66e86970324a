// Event shape: the contract-v1 fields every event carries and where each command's payload goes.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openPage, RFC3339_MS, UUID_V4 } from './harness.mjs'

test('every event carries the common contract fields', async () => {
  const page = await openPage({ url: 'https://shop.test/p/1?x=1', title: 'Red shoe', referrer: 'https://search.test/?q=shoe' })
  await page.tick(200)
  page.call('track', 'add_to_cart', { sku: 'SKU-1' })
  await page.tick(1000)
  const [view, cart] = page.network.delivered
  assert.deepEqual(Object.keys(view).sort(), [
    'client_ts', 'context', 'event_id', 'event_type', 'referrer', 'schema_version', 'sent_ts', 'session_id', 'title', 'url',
  ])
  assert.equal(view.schema_version, 1)
  assert.match(view.event_id, UUID_V4)
  assert.notEqual(view.event_id, cart.event_id)
  assert.equal(view.client_ts, '2026-11-23T10:00:00.000Z')
  assert.equal(cart.client_ts, '2026-11-23T10:00:00.200Z')
  assert.equal(view.sent_ts, '2026-11-23T10:00:00.000Z') // the first batch goes at once
  assert.equal(cart.sent_ts, '2026-11-23T10:00:01.200Z')
  assert.match(view.sent_ts, RFC3339_MS)
  assert.equal(view.url, 'https://shop.test/p/1?x=1')
  assert.equal(view.referrer, 'https://search.test/?q=shoe')
  assert.equal(view.title, 'Red shoe')
  assert.deepEqual(view.context, {
    screen_width: 0, screen_height: 0, viewport_width: 1024, viewport_height: 768, language: 'en-US', timezone: 'UTC',
  })
  assert.equal(cart.url, 'https://shop.test/p/1?x=1')
  assert.equal(cart.session_id, view.session_id)
  assert.equal(view.consent, undefined)
})

const product = { sku: 'SKU-1', name: 'Red shoe', category: 'Shoes/Running', price: 59.9, currency: 'EUR', quantity: 1 }
const order = { order_id: 'O-1', revenue: 64.9, currency: 'EUR', shipping: 5, items: [product] }
const decision = { decision_id: 'd-1', slot: 'hero', variant: 'spring', arm: 'rules', content: { html: '<b>x</b>' } }

const cases = [
  ['product_view', product, { product }],
  ['add_to_cart', product, { product }],
  ['remove_from_cart', product, { product }],
  ['begin_checkout', [product], { products: [product] }],
  ['begin_checkout', { products: [product] }, { products: [product] }],
  ['purchase', order, { order }],
  ['search', 'red shoes', { query: 'red shoes' }],
  ['search', { query: 'red shoes' }, { query: 'red shoes' }],
  ['click', { url: 'https://x.test/', kind: 'outbound' }, { target: { url: 'https://x.test/', kind: 'outbound' } }],
  ['custom', { name: 'video_play', properties: { seconds: 3 } }, { name: 'video_play', properties: { seconds: 3 } }],
  ['newsletter_signup', { plan: 'pro' }, { event_type: 'custom', name: 'newsletter_signup', properties: { plan: 'pro' } }],
  ['newsletter_signup', undefined, { event_type: 'custom', name: 'newsletter_signup' }],
  ['personalization_click', decision, { decision: { decision_id: 'd-1', slot: 'hero', variant: 'spring', arm: 'rules' } }],
]

for (const [type, props, expected] of cases) {
  test(`track('${type}', ${JSON.stringify(props)}) puts the payload in its contract field`, async () => {
    const page = await openPage({ before: [['init', { collector: 'https://c.test', ping: 0, auto: false }]] })
    page.call('track', type, props)
    await page.tick(1000)
    const [event] = page.network.delivered
    const fields = {}
    for (const key of Object.keys(expected)) fields[key] = event[key]
    assert.deepEqual(fields, expected)
    if (!expected.event_type) assert.equal(event.event_type, type)
    if (!expected.properties) assert.equal(event.properties, undefined)
  })
}

test('the queued event is a copy: later changes to the object passed in do not leak', async () => {
  const page = await openPage()
  const item = { sku: 'SKU-1', quantity: 1 }
  page.call('track', 'add_to_cart', item)
  item.quantity = 99
  await page.tick(1000)
  assert.equal(page.network.delivered[1].product.quantity, 1)
})

test('identify attaches user_id to later events and to the next page; identify(null) forgets it', async () => {
  const page = await openPage()
  page.call('identify', 'user-7')
  page.call('track', 'search', 'a')
  const storage = await page.leave()
  assert.equal(storage.cl_u, 'user-7')
  const next = await openPage({ storage, clock: page.clock })
  next.call('identify', null)
  next.call('track', 'search', 'b')
  await next.tick(1000)
  assert.deepEqual(page.network.delivered.map((e) => [e.event_type, e.user_id]), [
    ['page_view', undefined], ['identify', 'user-7'], ['search', 'user-7'],
  ])
  assert.deepEqual(next.network.delivered.map((e) => [e.event_type, e.user_id]), [
    ['page_view', 'user-7'], ['search', undefined],
  ])
  assert.equal(next.storage().cl_u, undefined)
})

test('long page fields are cut to the contract limits', async () => {
  const long = 'x'.repeat(3000)
  const page = await openPage({ url: 'https://shop.test/?q=' + long, title: 't'.repeat(600) })
  await page.tick(1000)
  const [view] = page.network.delivered
  assert.equal(view.url.length, 2048)
  assert.equal(view.title.length, 512)
})
