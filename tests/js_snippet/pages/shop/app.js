// A minimal single-page app: links marked data-spa change the view with history.pushState.
const titles = { '/shop/': 'Shop', '/shop/product/sku-1': 'Red shoe' }

function render() {
  const title = titles[location.pathname] || 'Shop'
  document.title = title
  document.getElementById('view').innerHTML = '<h1></h1>'
  document.querySelector('#view h1').textContent = title
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-spa]')
  if (!link) return
  event.preventDefault()
  document.title = titles[link.pathname] || 'Shop'
  history.pushState({}, '', link.pathname)
  render()
})
addEventListener('popstate', render)
render()
