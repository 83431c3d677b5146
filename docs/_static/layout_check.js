// Added to the pages only when the docs are built for the layout check
// (NER_BERT_DOCS_LAYOUT_CHECK=1, see tests/test_docs.py): once a page has loaded, it lists
// what a reader would see broken (code or tables wider than the text column, a page wider
// than the window, images that did not load) in <body data-layout-problems="[...]">.
window.addEventListener("load", () => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    problems.push(`the page is ${root.scrollWidth}px wide in a ${root.clientWidth}px window`);
  }
  const column = document.querySelector("div.body") || document.body;
  const right = column.getBoundingClientRect().right;
  const describe = (el) => (el.textContent || el.getAttribute("src") || "").trim().slice(0, 60);
  for (const el of column.querySelectorAll("pre, table, img")) {
    if (el.tagName === "PRE" && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`code wider than its box (${el.scrollWidth} > ${el.clientWidth}px): ${describe(el)}`);
    } else if (el.getBoundingClientRect().right > right + 1) {
      problems.push(`${el.tagName.toLowerCase()} past the text column's right edge: ${describe(el)}`);
    }
  }
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) {
      problems.push(`image did not load: ${img.getAttribute("src")}`);
    }
  }
  document.body.setAttribute("data-layout-problems", JSON.stringify(problems));
});
