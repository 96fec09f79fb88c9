// The GraphQL-over-HTTP conformance audit of graphql-http against a running server.
// Usage: node audit.mjs http://127.0.0.1:8000/graphql
// Prints every result as JSON ({id, name, status, reason}; status is ok, notice, warn or error)
// and exits 1 only when a MUST audit fails ("error"): SHOULD and MAY failures are reported only.
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs <graphql url>");
  process.exit(2);
}

async function bodyOf(response) {
  // Some audits read the body themselves; then it can no longer be read here.
  if (response.bodyUsed) return null;
  return (await response.text()).slice(0, 500);
}

const results = await auditServer({ url });
const report = await Promise.all(
  results.map(async (result) => {
    const entry = { id: result.id, name: result.name, status: result.status };
    if (result.status !== "ok") {
      entry.reason = result.reason;
      // The server's own answer says more than the audit's one-line reason.
      entry.response = {
        status: result.response.status,
        contentType: result.response.headers.get("content-type"),
        body: await bodyOf(result.response),
      };
    }
    return entry;
  }),
);
console.log(JSON.stringify(report, null, 2));
process.exit(report.some((entry) => entry.status === "error") ? 1 : 0);
