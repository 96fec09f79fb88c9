// The search page: highlighted hits, facets that filter, sort and pages, all kept in the URL
// (/search?q=&page=&sort=&topic=&person=&section=&year=) so that a result can be shared.
import { alert, gql, h, highlighted, humanise, plural, setTitle, time } from "./site.js";

const SORTS = [
  ["relevance", "Relevance"],
  ["newest", "Newest"],
  ["oldest", "Oldest"],
];
// Facet name in the API, URL parameter, legend; `single` facets take one value at a time.
const FACETS = [
  { name: "topics", param: "topic", legend: "Topics" },
  { name: "people", param: "person", legend: "People" },
  { name: "sections", param: "section", legend: "Sections", single: true },
  { name: "years", param: "year", legend: "Years" },
];
const FACET_VALUES_SHOWN = 8;

function readState() {
  const params = new URLSearchParams(location.search);
  const sort = (params.get("sort") ?? "relevance").toLowerCase();
  const state = {
    q: params.get("q") ?? "",
    page: Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1),
    sort: SORTS.some(([value]) => value === sort) ? sort : "relevance",
  };
  for (const facet of FACETS) state[facet.param] = params.getAll(facet.param).filter(Boolean);
  return state;
}

function urlOf(state) {
  const params = new URLSearchParams({ q: state.q });
  for (const facet of FACETS) for (const value of state[facet.param]) params.append(facet.param, value);
  if (state.sort !== "relevance") params.set("sort", state.sort);
  if (state.page > 1) params.set("page", String(state.page));
  return `/search?${params}`;
}

function variables(state) {
  const filter = {};
  if (state.topic.length) filter.topics = state.topic;
  if (state.person.length) filter.people = state.person;
  if (state.section.length) filter.section = state.section[0];
  const years = state.year.map(Number).filter(Number.isInteger);
  if (years.length) {
    // Several years select the span from the first to the last.
    filter.publishedAfter = `${Math.min(...years)}-01-01T00:00:00Z`;
    filter.publishedBefore = `${Math.max(...years) + 1}-01-01T00:00:00Z`;
  }
  return { q: state.q, page: state.page, sort: state.sort.toUpperCase(), filter };
}

// The server rendered the page (search_page.py, search.html): the script takes its parts as they
// stand, so that nothing moves under the reader, and re-renders them only when a choice changes.
const main = document.getElementById("main");
const heading = main.querySelector("h1");
const count = main.querySelector(".count");
const results = main.querySelector(".results");
const notices = main.querySelector(".notices");
const sortForm = main.querySelector("form.toolbar");
const sortSelect = sortForm?.elements.sort;
const facetsBox = main.querySelector("aside.facets");
const hits = main.querySelector("ol.hits");
let pages = main.querySelector("nav.pages");
if (results && !pages) {
  pages = h("nav", { "aria-label": "Pages", class: "pages", hidden: true });
  results.append(pages);
}

let state = readState();
let latest = 0;

function go(next, { focus } = {}) {
  state = next;
  history.pushState(null, "", urlOf(state));
  load({ focus });
}

function hitView({ article, highlight }) {
  return h(
    "li",
    {},
    h("h2", {}, h("a", { href: `/articles/${encodeURIComponent(article.slug)}` }, highlighted(highlight.title))),
    highlight.snippet ? h("p", { class: "snippet" }, highlighted(highlight.snippet)) : null,
    h("p", { class: "meta" }, time(article.publishedAt), ` · ${humanise(article.section.slug)}`),
  );
}

function facetView(facet, values) {
  const chosen = state[facet.param];
  const shown = [...values];
  // A chosen value the answer no longer counts stays on show; its name as the URL spells it.
  for (const value of chosen) if (!shown.some((v) => v.value === value)) shown.push({ value, label: humanise(value), count: 0 });
  if (!shown.length) return null;
  const boxes = shown.map(({ value, label, count: n }, index) => {
    const box = h("input", { type: "checkbox", value, "data-key": `${facet.param}:${value}`, checked: chosen.includes(value) });
    box.addEventListener("change", () => {
      const others = facet.single ? [] : chosen.filter((v) => v !== value);
      go({ ...state, page: 1, [facet.param]: box.checked ? [...others, value] : others }, { focus: box.dataset.key });
    });
    // The facet's label is the name as written ("War in Ukraine"), not its slug.
    return h("label", { hidden: index >= FACET_VALUES_SHOWN && !chosen.includes(value) }, box, ` ${label} (${n})`);
  });
  const fieldset = h("fieldset", {}, h("legend", {}, facet.legend), boxes);
  const hiddenCount = boxes.filter((label) => label.hidden).length;
  if (hiddenCount) {
    const more = h("button", { type: "button", class: "link" }, `Show ${hiddenCount} more ${facet.legend.toLowerCase()}`);
    more.addEventListener("click", () => {
      boxes.forEach((label) => (label.hidden = false));
      more.remove();
      boxes[FACET_VALUES_SHOWN]?.querySelector("input").focus();
    });
    fieldset.append(more);
  }
  return fieldset;
}

function pageLink(label, page, rel) {
  const link = h("a", { href: urlOf({ ...state, page }), rel }, label);
  link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    go({ ...state, page }, { focus: "heading" });
  });
  return link;
}

// `first`: the page as the server rendered it already shows these hits, count and notice.
async function load({ focus, first = false } = {}) {
  const ticket = ++latest;
  sortSelect.value = state.sort;
  results.setAttribute("aria-busy", "true");
  let search;
  try {
    ({ search } = await gql("site-search", variables(state)));
  } catch (error) {
    if (ticket !== latest) return;
    // The rendered page still works with its links: no need to tell the reader.
    if (first) return results.removeAttribute("aria-busy");
    notices.replaceChildren(alert(error));
    count.textContent = "";
    hits.replaceChildren();
    pages.replaceChildren();
    results.removeAttribute("aria-busy");
    return;
  }
  if (ticket !== latest) return;
  count.textContent = plural(search.totalHits, "story", "stories");
  if (!first) {
    setTitle(`Search: ${state.q}`);
    main.querySelector("p.notice")?.remove();
    notices.replaceChildren();
    if (search.degraded) {
      notices.append(h("p", { role: "alert", class: "degraded" }, "Search is running in a reduced mode: results may be incomplete."));
    }
    hits.replaceChildren(...search.hits.map(hitView));
  }
  if (!search.hits.length) {
    notices.append(h("p", { class: "empty" }, state.q ? `No stories match “${state.q}”.` : "No stories match these filters."));
  }
  facetsBox.replaceChildren(...FACETS.map((facet) => facetView(facet, search.facets[facet.name])).filter(Boolean));
  pages.replaceChildren();
  if (search.totalPages > 1) {
    if (search.page > 1) pages.append(pageLink("Previous", search.page - 1, "prev"));
    pages.append(h("span", {}, `Page ${search.page} of ${search.totalPages}`));
    if (search.page < search.totalPages) pages.append(pageLink("Next", search.page + 1, "next"));
  }
  pages.hidden = search.totalPages <= 1;
  results.removeAttribute("aria-busy");
  if (focus === "heading") {
    heading.focus();
    window.scrollTo(0, 0);
  } else if (focus) {
    facetsBox.querySelector(`input[data-key="${CSS.escape(focus)}"]`)?.focus();
  }
}

// Without words there is nothing to enhance: the page says what search looks in.
if (results) {
  sortForm.querySelector("button[type=submit]").hidden = true;
  sortForm.addEventListener("submit", (event) => event.preventDefault());
  sortSelect.addEventListener("change", () => go({ ...state, page: 1, sort: sortSelect.value }));
  window.addEventListener("popstate", () => {
    state = readState();
    load();
  });
  load({ first: true });
}
