// Automatic clicks: outbound links, downloads, data-cl-event elements and declarative cart buttons.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openPage } from './harness.mjs'

const html = `
  <a id="out" href="https://elsewhere.test/x">  Partner
     site </a>
  <a id="in" href="/about">About</a>
  <a id="pdf" href="/files/catalog.PDF">Catalog</a>
  <a id="dl" href="/export?id=1" download>Export</a>
  <a id="mail" href="mailto:shop@example.com">Mail us</a>
  <a id="nested" href="https://elsewhere.test/y"><span id="inner">Inner <b id="deep">text</b></span></a>
  <button id="signup" data-cl-event="newsletter-signup">Sign <b>up</b></button>
  <button id="cart" data-cl-event="add_to_cart" data-cl-sku="SKU-1" data-cl-name="Red shoe"
    data-cl-category="Shoes/Running" data-cl-price="59.90" data-cl-currency="EUR" data-cl-quantity="2">Add</button>
  <button id="uncart" data-cl-event="remove_from_cart" data-cl-sku="SKU-1">Remove</button>
  <a id="tagged" href="https://elsewhere.test/z" data-cl-event="partner-banner">Banner</a>
  <p id="plain">Just text</p>`

// [what is clicked, how, the event expected (null: none)]
const table = [
  ['#out', {}, ['click', { url: 'https://elsewhere.test/x', text: 'Partner site', kind: 'outbound', element_id: 'out' }]],
  ['#in', {}, null],
  ['#pdf', {}, ['click', { url: 'https://shop.test/files/catalog.PDF', text: 'Catalog', kind: 'download', element_id: 'pdf' }]],
  ['#dl', {}, ['click', { url: 'https://shop.test/export?id=1', text: 'Export', kind: 'download', element_id: 'dl' }]],
  ['#mail', {}, null],
  ['#deep', {}, ['click', { url: 'https://elsewhere.test/y', text: 'Inner text', kind: 'outbound', element_id: 'nested' }]],
  ['#signup', {}, ['click', { text: 'Sign up', kind: 'element', element_id: 'newsletter-signup' }]],
  ['#tagged', {}, ['click', { url: 'https://elsewhere.test/z', text: 'Banner', kind: 'element', element_id: 'partner-banner' }]],
  ['#plain', {}, null],
  ['#out', { type: 'auxclick', button: 1 }, ['click', { url: 'https://elsewhere.test/x', text: 'Partner site', kind: 'outbound', element_id: 'out' }]],
  ['#out', { type: 'auxclick', button: 2 }, null],
  ['#cart', {}, ['add_to_cart', { sku: 'SKU-1', name: 'Red shoe', category: 'Shoes/Running', price: 59.9, currency: 'EUR', quantity: 2 }]],
  ['#uncart', {}, ['remove_from_cart', { sku: 'SKU-1' }]],
]

for (const [selector, how, expected] of table) {
  test(`${how.type || 'click'}${how.button ? ' button ' + how.button : ''} on ${selector}: ${expected ? expected[0] : 'nothing'}`, async () => {
    const page = await openPage({
      html,
      before: [['init', { collector: 'https://c.test', ping: 0, auto: false }]],
      setup: (window) => window.addEventListener('click', (e) => e.preventDefault()), // jsdom cannot navigate
    })
    page.click(selector, how)
    await page.tick(1000)
    const events = page.network.delivered
    if (!expected) return assert.deepEqual(events, [])
    const [type, payload] = expected
    assert.equal(events.length, 1)
    assert.equal(events[0].event_type, type)
    assert.deepEqual(type == 'click' ? events[0].target : events[0].product, payload)
  })
}

test('a click the page stops from propagating is still recorded (capture phase)', async () => {
  const page = await openPage({
    html,
    before: [['init', { collector: 'https://c.test', ping: 0, auto: false }]],
    setup(window) {
      window.document.getElementById('out').addEventListener('click', (e) => {
        e.stopPropagation()
        e.preventDefault()
      })
    },
  })
  page.click('#out')
  await page.tick(1000)
  assert.deepEqual(page.types(), ['click'])
})
