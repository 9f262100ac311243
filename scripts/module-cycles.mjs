// Finds cycles among a crate's top-level modules: module A depends on B when code in A (not a
// comment) names `crate::B`. Prints each cycle (a strongly connected set of modules) and exits
// non-zero if there is one. Usage: node scripts/module-cycles.mjs CRATE_DIR...
// Written here rather than taken from a crate: `cargo-modules` would need a download the test
// gate must not depend on, and this reading of `crate::` paths is all the check needs.
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { join, basename } from "node:path";

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".rs") ? [path] : [];
  });
}

function modules(src) {
  const mods = new Map();
  for (const name of readdirSync(src)) {
    const path = join(src, name);
    if (name === "lib.rs" || name === "main.rs" || name === "bin") continue;
    if (statSync(path).isDirectory()) {
      if (existsSync(join(path, "mod.rs"))) mods.set(name, files(path));
    } else if (name.endsWith(".rs")) {
      mods.set(basename(name, ".rs"), [path]);
    }
  }
  return mods;
}

function edges(mods) {
  const graph = new Map();
  for (const [name, paths] of mods) {
    const deps = new Set();
    for (const path of paths) {
      // Unit tests may reach anywhere in the crate: a `tests.rs` module, or a file's code after
      // its `#[cfg(test)]`.
      if (basename(path) === "tests.rs") continue;
      const code = readFileSync(path, "utf8").split(/^#\[cfg\(test\)\]/m)[0];
      for (const line of code.split("\n")) {
        const text = line.trim();
        if (text.startsWith("//")) continue;
        for (const m of text.matchAll(/crate::([a-z_][a-z0-9_]*)/g)) {
          if (m[1] !== name && mods.has(m[1])) deps.add(m[1]);
        }
        // `use crate::{a, b::c}` groups.
        const group = text.match(/crate::\{([^}]*)\}/);
        if (group) {
          for (const part of group[1].split(",")) {
            const head = part.trim().split("::")[0];
            if (head !== name && mods.has(head)) deps.add(head);
          }
        }
      }
    }
    graph.set(name, deps);
  }
  return graph;
}

// Tarjan's strongly connected components.
function cycles(graph) {
  let index = 0;
  const stack = [], on = new Set(), idx = new Map(), low = new Map(), out = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of graph.get(v)) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do { w = stack.pop(); on.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

let found = 0;
for (const dir of process.argv.slice(2)) {
  for (const scc of cycles(edges(modules(join(dir, "src"))))) {
    console.log(`${dir}: modules in a cycle: ${scc.join(", ")}`);
    found++;
  }
}
process.exit(found ? 1 : 0);
