"""JavaScript the robots run in the portal's pages.

Each page is read with ONE script call returning plain JSON: reading a 50-row table
cell by cell over WebDriver takes seconds, one script takes milliseconds.
"""

from __future__ import annotations

#: Reads ``table#claims`` of a document: header texts, each row's cells and claim id,
#: paging info; ``null`` when the table is missing so the caller can classify the page.
_CLAIMS_TABLE_READER = """
function readClaimsTable(doc, url) {
  const table = doc.querySelector('table#claims');
  if (!table) { return null; }
  const text = (el) => (el.innerText || el.textContent || '').trim();
  const headers = Array.from(table.querySelectorAll('thead th')).map(text);
  const rows = Array.from(table.querySelectorAll('tr[data-claim-id]')).map((tr) => {
    const link = tr.querySelector('a[href]');
    return {
      claim_id: tr.getAttribute('data-claim-id'),
      cells: Array.from(tr.querySelectorAll('td')).map(text),
      detail_url: link ? new URL(link.getAttribute('href'), url).href : null,
    };
  });
  const info = doc.querySelector('span#page-info');
  const next = doc.querySelector('a#next-page');
  return {
    url: url,
    headers: headers,
    rows: rows,
    page: info ? info.getAttribute('data-page') : null,
    pages: info ? info.getAttribute('data-pages') : null,
    next_url: next ? new URL(next.getAttribute('href'), url).href : null,
  };
}
"""

#: Reads the claims list of the page the browser shows.
READ_CLAIMS_TABLE = (
    _CLAIMS_TABLE_READER + "return readClaimsTable(document, window.location.href);\n"
)

#: Fetches a claims list page within the browser's session (its cookies, no navigation,
#: no rendering) and reads it: ONE asynchronous script call per page. Answers
#: ``{status, url, page}`` (``page`` as READ_CLAIMS_TABLE returns it, ``url`` the final
#: URL after redirects, so a session that ended shows as ``/login``) or
#: ``{status: 0, error}`` when the portal could not be reached.
FETCH_CLAIMS_PAGE = (
    _CLAIMS_TABLE_READER
    + """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: 'same-origin'})
  .then(async (response) => {
    const html = await response.text();
    const doc = new DOMParser().parseFromString(html, 'text/html');
    done({status: response.status, url: response.url, page: readClaimsTable(doc, response.url)});
  })
  .catch((error) => done({status: 0, url: arguments[0], error: String(error)}));
"""
)

#: Reads every ``dd[data-field]`` of ``dl#claim-details`` and whether the claim can
#: still be decided (its decision form is shown). ``null`` when the list is missing.
_CLAIM_DETAILS_READER = """
function readClaimDetails(doc, url) {
  const list = doc.querySelector('dl#claim-details');
  if (!list) { return null; }
  const fields = {};
  list.querySelectorAll('dd[data-field]').forEach((dd) => {
    fields[dd.getAttribute('data-field')] = (dd.innerText || dd.textContent || '').trim();
  });
  return {
    url: url,
    fields: fields,
    decision_form: !!doc.querySelector('form#decision-form'),
  };
}
"""

#: Reads the claim details of the page the browser shows.
READ_CLAIM_DETAILS = (
    _CLAIM_DETAILS_READER + "return readClaimDetails(document, window.location.href);\n"
)

#: Fetches claim detail pages within the browser's session, several at once, and reads
#: them: ``[{status, url, page}]`` in the order of the URLs (see FETCH_CLAIMS_PAGE).
FETCH_CLAIM_DETAILS = (
    _CLAIM_DETAILS_READER
    + """
const done = arguments[arguments.length - 1];
Promise.all(arguments[0].map((url) => fetch(url, {credentials: 'same-origin'})
  .then(async (response) => {
    const html = await response.text();
    const doc = new DOMParser().parseFromString(html, 'text/html');
    return {status: response.status, url: response.url, page: readClaimDetails(doc, response.url)};
  })
  .catch((error) => ({status: 0, url: url, error: String(error)}))))
  .then(done);
"""
)

#: Reads the receipt page after a confirmed decision.
READ_RECEIPT = """
const receipt = document.querySelector('span#receipt');
const decision = document.querySelector('span#decision');
return {
  url: window.location.href,
  receipt: receipt ? receipt.innerText.trim() : null,
  decision: decision ? decision.innerText.trim() : null,
};
"""

#: "ready" when the element named by the CSS selector is on the page,
#: "browser-error" on Chromium's own error page (the server did not answer),
#: "server-error" on the portal's "temporarily unavailable" page, "login-page" when
#: the portal sent the browser to log in, "waiting" otherwise.
PAGE_STATE = """
if (document.querySelector(arguments[0]) !== null) { return 'ready'; }
if (String(document.URL).startsWith('chrome-error:')) { return 'browser-error'; }
if (document.querySelector('#server-error') !== null) { return 'server-error'; }
if (document.querySelector('form#login-form') !== null) { return 'login-page'; }
return 'waiting';
"""

#: Fills the bulk screen's form (claim ids, decision) and submits it.
FILL_BULK_FORM = """
const form = document.querySelector('form#bulk-form');
form.querySelector('textarea#claim-ids').value = arguments[0];
form.querySelector('select#bulk-action').value = arguments[1];
form.submit();
"""

#: Reads the rows of a bulk table (review or receipts) named by the CSS selector.
READ_BULK_ROWS = """
return Array.from(document.querySelectorAll(arguments[0] + ' tr[data-claim-id]')).map((tr) => ({
  claim_id: tr.getAttribute('data-claim-id'),
  state: tr.getAttribute('data-state'),
  outcome: tr.getAttribute('data-outcome'),
  decision: tr.getAttribute('data-decision'),
  receipt: tr.getAttribute('data-receipt'),
}));
"""
