// Starts GraphiQL on this page's own URL (/graphql). React, ReactDOM, GraphiQL and the explorer
// plugin are loaded before it (deferred scripts run in order) and left as globals.
(() => {
  "use strict";

  // GraphiQL's dialogs add a <style> element, with this nonce if it is set (react-style-singleton
  // reads it from this global); the page's CSP allows no other inline style.
  window.__webpack_nonce__ = document.querySelector('meta[name="style-nonce"]').content;

  // The query and variables being edited stay in the address bar, so a link shares them. They are
  // `q` and `variables`: a `query` parameter would make the server run it instead of this page.
  const parameters = new URLSearchParams(window.location.search);

  function keepInAddress(key, value) {
    if (value) {
      parameters.set(key, value);
    } else {
      parameters.delete(key);
    }
    const search = parameters.toString();
    window.history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
  }

  const EXAMPLE = `# The newsroom's GraphQL API. Ctrl-Enter runs
# the query, Ctrl-Space completes; the book icon
# on the left lists every type and field.
{
  articles(first: 5) {
    totalCount
    nodes { slug title section { name } }
  }
}
`;

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: window.location.origin + window.location.pathname }),
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      defaultQuery: EXAMPLE,
      query: parameters.get("q") || undefined,
      variables: parameters.get("variables") || undefined,
      onEditQuery: (query) => keepInAddress("q", query),
      onEditVariables: (variables) => keepInAddress("variables", variables),
      defaultEditorToolsVisibility: true,
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
    }),
  );
})();
