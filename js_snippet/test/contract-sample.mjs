// Prints, as JSON, one of every event the snippet emits, produced by the shipped bundle in jsdom.
// tests/js_snippet/test_contract.py validates each against the Python contract
// (tracker/contract), so the browser and the collector cannot drift apart.

import { Network, openPage } from './harness.mjs'

const product = { sku: 'SKU-1', name: 'Red shoe', category: 'Shoes/Running', price: 59.9, currency: 'EUR', quantity: 1 }
const decision = { decision_id: 'd-1', slot: 'hero', variant: 'spring', arm: 'bandit', content: { html: '<b>Spring</b>' } }
const html = `
  <a id="out" href="https://elsewhere.test/x">Partner</a>
  <a id="pdf" href="/files/catalog.pdf">Catalog</a>
  <button id="signup" data-cl-event="newsletter-signup">Sign up</button>
  <button id="cart" data-cl-event="add_to_cart" data-cl-sku="SKU-2" data-cl-name="Blue shoe"
    data-cl-price="10" data-cl-currency="EUR" data-cl-quantity="1">Add</button>
  <div id="hero" data-cl-slot="hero">Default</div>`

const events = []
for (const consent of ['granted', 'denied']) {
  const network = new Network()
  network.decide.hero = decision
  const page = await openPage({
    url: 'https://shop.test/home?utm_source=news',
    referrer: 'https://search.test/?q=shoes',
    html,
    network,
    before: [['init', { collector: 'https://c.test', ping: 5, consent }]],
    setup: (window) => window.addEventListener('click', (e) => e.preventDefault()),
  })
  page.call('identify', 'user-7')
  for (const id of ['#out', '#pdf', '#signup', '#cart', '#hero']) page.click(id)
  page.call('track', 'product_view', product)
  page.call('track', 'add_to_cart', product)
  page.call('track', 'remove_from_cart', product)
  page.call('track', 'begin_checkout', [product])
  page.call('track', 'purchase', { order_id: 'O-1', revenue: 64.9, currency: 'EUR', tax: 10, shipping: 5, items: [product] })
  page.call('track', 'search', 'red shoes')
  page.call('track', 'custom', { name: 'video_play', properties: { seconds: 3, autoplay: false } })
  page.call('track', 'newsletter_signup', { plan: 'pro' })
  page.call('personalize', 'side', () => {})
  await page.tick(6000) // a page_ping at 5 s
  page.window.history.pushState({}, '', '/next')
  await page.leave()
  events.push(...network.delivered)
}
process.stdout.write(JSON.stringify(events))
