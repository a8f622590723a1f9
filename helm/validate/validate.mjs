// Validates every object of rendered Helm output (files given as arguments, YAML, several
// documents each) against the Kubernetes OpenAPI schemas of kubernetes-models (and the
// cert-manager and Prometheus operator CRDs), offline. Prints one line per invalid object and
// exits 1 if there is any; prints how many objects were valid otherwise.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const packages = {
  "cert-manager.io": "@kubernetes-models/cert-manager",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

async function modelFor(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const pkg = packages[group] ?? "kubernetes-models";
  const module = await import(`${pkg}/${apiVersion}/${kind}`);
  return module[kind] ?? module.default;
}

let valid = 0;
const problems = [];
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    const obj = doc.toJS();
    if (!obj || !obj.kind) continue;
    const name = `${file}: ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}`;
    try {
      const Model = await modelFor(obj.apiVersion, obj.kind);
      new Model(obj).validate();
      valid++;
    } catch (e) {
      problems.push(`${name}: ${e.message ?? e}`);
    }
  }
}
if (problems.length > 0) {
  console.log(problems.join("\n"));
  process.exit(1);
}
console.log(`${valid} objects valid`);
