// <related-stories slug="…" limit="4">: the newsroom's related stories on any page.
// Served by /widget.js, which fills in the server's origin, the query and its SHA-256 (this
// file is the template). Styles live in the element's shadow root, so the host page's CSS and
// this widget's CSS never meet.
(() => {
  const ORIGIN = "{{origin}}";
  const QUERY = "{{query}}";
  const HASH = "{{hash}}";
  if (customElements.get("related-stories")) return;

  let sheet = null;
  const styles = () => {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(`
        :host { all: initial; display: block; font: 1rem/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
          color: var(--related-stories-color, #1d1d1f); }
        :host([hidden]) { display: none; }
        section { border-top: 3px solid var(--related-stories-accent, #b00020); padding-top: .5em; }
        h2 { font-size: 1.15em; margin: 0 0 .5em; }
        ul { list-style: none; margin: 0; padding: 0; display: grid; gap: 1em;
          grid-template-columns: repeat(auto-fill, minmax(14em, 1fr)); }
        a { color: var(--related-stories-link, #0b57a4); font-weight: 600; text-decoration: none; }
        a:hover { text-decoration: underline; }
        a:focus-visible { outline: 3px solid var(--related-stories-accent, #b00020); outline-offset: 2px; }
        p { margin: .25em 0 0; font-size: .9em; color: var(--related-stories-muted, #555); }
        img { display: block; width: 100%; height: auto; border-radius: 4px; margin-bottom: .4em; }
      `);
    }
    return sheet;
  };

  // Persisted query over GET, so that a CDN may cache the answer; the full text is sent only
  // when the server does not know the hash yet.
  async function fetchRelated(slug, limit) {
    const params = new URLSearchParams({
      operationName: "RelatedWidget",
      variables: JSON.stringify({ slug, limit }),
      extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: HASH } }),
    });
    // Accept is a CORS-safelisted header (no preflight); without it a GET that carries no
    // query text would be answered with GraphiQL's page.
    const get = async () =>
      (await fetch(`${ORIGIN}/graphql?${params}`, { credentials: "omit", headers: { Accept: "application/json" } })).json();
    let answer = await get();
    if (answer.errors?.some((error) => error.extensions?.code === "PERSISTED_QUERY_NOT_FOUND")) {
      params.set("query", QUERY);
      answer = await get();
    }
    if (answer.errors?.length) throw new Error(answer.errors[0].message);
    return answer.data.article?.related ?? [];
  }

  const element = (tag, attributes, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  };

  class RelatedStories extends HTMLElement {
    static observedAttributes = ["slug", "limit"];

    constructor() {
      super();
      this.attachShadow({ mode: "open" }).adoptedStyleSheets = [styles()];
      this.requested = 0;
      this.scheduled = false;
    }

    // An element upgraded after the script loads (`defer`) gets a call per attribute and one
    // for being connected: they make one request.
    schedule() {
      if (this.scheduled) return;
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        if (this.isConnected) this.render();
      });
    }

    connectedCallback() {
      this.schedule();
    }

    attributeChangedCallback() {
      this.schedule();
    }

    shown(count) {
      this.dispatchEvent(new CustomEvent("related-stories-rendered", { detail: { count }, bubbles: true }));
    }

    async render() {
      const ticket = ++this.requested;
      const slug = this.getAttribute("slug");
      const limit = Number.parseInt(this.getAttribute("limit") ?? "4", 10) || 4;
      if (!slug) {
        this.shadowRoot.replaceChildren();
        return this.shown(0);
      }
      let stories;
      try {
        stories = await fetchRelated(slug, limit);
      } catch (error) {
        // A widget on someone else's page stays quiet: an empty box, a line in the console.
        console.warn("related-stories:", error.message);
        stories = [];
      }
      if (ticket !== this.requested) return;
      if (!stories.length) {
        this.shadowRoot.replaceChildren();
        return this.shown(0);
      }
      const items = stories.map((story) =>
        element(
          "li",
          {},
          ...(story.leadImage
            ? [
                element("img", {
                  src: story.leadImage.url,
                  alt: story.leadImage.alt,
                  width: "320",
                  height: String(Math.round((320 * story.leadImage.height) / story.leadImage.width)),
                  loading: "lazy",
                  decoding: "async",
                }),
              ]
            : []),
          element("a", { href: `${ORIGIN}/articles/${encodeURIComponent(story.slug)}` }, story.title),
          ...(story.dek ? [element("p", {}, story.dek)] : []),
        ),
      );
      this.shadowRoot.replaceChildren(
        element("section", { "aria-label": "Related stories" }, element("h2", { part: "heading" }, "Read next"), element("ul", {}, ...items)),
      );
      this.shown(items.length);
    }
  }

  customElements.define("related-stories", RelatedStories);
})();
