// The loader stub and settings, as an external file so the page needs no inline script (CSP).
// The collector defaults to the origin the snippet is loaded from.
window.clickloop = window.clickloop || function () { (clickloop.q = clickloop.q || []).push(arguments) }
clickloop('init', { ping: 0 })
