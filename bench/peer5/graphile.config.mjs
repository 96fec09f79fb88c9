// PostGraphile 5 as a production deployment would run it over our tables (bench/postgraphile5.py
// starts it with DATABASE_URL and PORT). Amber is v5's recommended preset.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  disablePlugins: [
    // v5 offers orderBy and conditions only on indexed columns; the page orders by `position`
    // and filters on `suppressed` and `status`, as v4 (which ignores indexes) allows.
    "PgIndexBehaviorsPlugin",
    // The benchmark only reads; as v4 runs with --disable-default-mutations.
    "PgMutationCreatePlugin",
    "PgMutationUpdateDeletePlugin",
  ],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      // The same pool size as v4's --max-pool-size 10 and the one-statement limit's.
      poolConfig: { max: 10 },
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT),
    // No GraphiQL (Ruru) page and no plan explanations: development aids.
    graphiql: false,
  },
  grafast: { explain: false },
};

export default preset;
