"""JavaScript the robots run in the portal's pages.

Each page is read with ONE script call returning plain JSON: reading a 50-row table
cell by cell over WebDriver takes seconds, one script takes milliseconds.
"""

from __future__ import annotations

#: Reads ``table#claims``: header texts, each row's cells and claim id, paging info.
#: Returns ``null`` when the table is missing so the caller can classify the page.
READ_CLAIMS_TABLE = """
const table = document.querySelector('table#claims');
if (!table) { return null; }
const text = (el) => (el.innerText || el.textContent || '').trim();
const headers = Array.from(table.querySelectorAll('thead th')).map(text);
const rows = Array.from(table.querySelectorAll('tr[data-claim-id]')).map((tr) => {
  const link = tr.querySelector('a[href]');
  return {
    claim_id: tr.getAttribute('data-claim-id'),
    cells: Array.from(tr.querySelectorAll('td')).map(text),
    detail_url: link ? link.href : null,
  };
});
const info = document.querySelector('span#page-info');
const next = document.querySelector('a#next-page');
return {
  url: window.location.href,
  headers: headers,
  rows: rows,
  page: info ? info.getAttribute('data-page') : null,
  pages: info ? info.getAttribute('data-pages') : null,
  next_url: next ? next.href : null,
};
"""

#: Reads every ``dd[data-field]`` of ``dl#claim-details`` and whether the claim can
#: still be decided (its decision form is shown). ``null`` when the list is missing.
READ_CLAIM_DETAILS = """
const list = document.querySelector('dl#claim-details');
if (!list) { return null; }
const fields = {};
list.querySelectorAll('dd[data-field]').forEach((dd) => {
  fields[dd.getAttribute('data-field')] = (dd.innerText || dd.textContent || '').trim();
});
return {
  url: window.location.href,
  fields: fields,
  decision_form: !!document.querySelector('form#decision-form'),
};
"""

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
#: "waiting" otherwise.
PAGE_STATE = """
if (document.querySelector(arguments[0]) !== null) { return 'ready'; }
if (String(document.URL).startsWith('chrome-error:')) { return 'browser-error'; }
return 'waiting';
"""
