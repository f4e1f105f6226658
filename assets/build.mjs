// Builds the portal's USWDS subset into app/static/uswds/ (see ./build and the README's "Static files").
//   css/uswds.min.css   src/uswds-portal.scss compiled; fonts and images it needs renamed by content hash
//   js/uswds.min.js     src/uswds-portal.js bundled: only the USWDS behaviours the markup needs
//   js/uswds-init.min.js  as published (sets usa-js-loading before the page paints)
//   fonts/ img/         only the files the CSS or the templates refer to
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import * as sass from "sass";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const USWDS = join(HERE, "node_modules", "@uswds", "uswds");
const DIST = join(USWDS, "dist");
// USWDS_OUT: build somewhere else (tests/test_assets.py compares such a build with the committed one).
const OUT = process.env.USWDS_OUT ? resolve(process.env.USWDS_OUT) : join(ROOT, "app", "static", "uswds");
const TEMPLATES = join(ROOT, "templates");

function filesUnder(dir) {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

function contentHash(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 12);
}

const { css } = sass.compile(join(HERE, "src", "uswds-portal.scss"), {
  loadPaths: [join(USWDS, "packages")],
  style: "compressed",
  quietDeps: true,
});

rmSync(OUT, { recursive: true, force: true });
mkdirSync(join(OUT, "css"), { recursive: true });

// A font or image the CSS refers to is copied as name.<hash>.ext, so it can be cached for a year.
const copied = new Map();
const built = css.replace(/url\((["']?)\.\.\/(fonts|img)\/([^)"'?#]+)\1\)/g, (match, quote, kind, name) => {
  const source = join(DIST, kind, name);
  if (!copied.has(source)) {
    const hashed = join(kind, dirname(name), `${basename(name, extname(name))}.${contentHash(source)}${extname(name)}`);
    mkdirSync(dirname(join(OUT, hashed)), { recursive: true });
    cpSync(source, join(OUT, hashed));
    copied.set(source, hashed);
  }
  return `url(../${copied.get(source)})`;
});
const banner = `/*! USWDS ${JSON.parse(readFileSync(join(USWDS, "package.json"))).version}: the portal's subset, built by assets/build from assets/src */\n`;
writeFileSync(join(OUT, "css", "uswds.min.css"), banner + built + "\n");

// Images the templates link directly keep their names (url_for adds the fingerprint).
const templateImages = new Set();
for (const path of filesUnder(TEMPLATES)) {
  for (const [, name] of readFileSync(path, "utf8").matchAll(/filename=['"]uswds\/img\/([^'"]+)['"]/g)) {
    templateImages.add(name);
  }
}
for (const name of templateImages) {
  mkdirSync(dirname(join(OUT, "img", name)), { recursive: true });
  cpSync(join(DIST, "img", name), join(OUT, "img", name));
}

mkdirSync(join(OUT, "js"), { recursive: true });
cpSync(join(DIST, "js", "uswds-init.min.js"), join(OUT, "js", "uswds-init.min.js"));
esbuild.buildSync({
  entryPoints: [join(HERE, "src", "uswds-portal.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "none",
  banner: { js: banner.trim() },
  outfile: join(OUT, "js", "uswds.min.js"),
  logLevel: "warning",
});
cpSync(join(USWDS, "LICENSE.md"), join(OUT, "LICENSE.md"));
writeFileSync(
  join(OUT, "README.md"),
  "Built by assets/build from the @uswds/uswds npm package (version in assets/package-lock.json) and\n" +
    "assets/src: do not edit by hand. Only the components, fonts and images the portal uses. License: LICENSE.md.\n",
);

for (const path of filesUnder(OUT).sort()) {
  console.log(`${String(statSync(path).size).padStart(8)}  ${relative(ROOT, path)}`);
}
