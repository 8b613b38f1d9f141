// yaml-to-json.mjs OUTDIR FILE...: read each YAML file as YAML 1.2 (core
// schema: `on`, `yes`, `no` are strings, as yaml-language-server and
// libyaml-based migrate read them) and write it as OUTDIR/N-BASENAME.json.
// Exits 1 naming the file when one is not valid YAML.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parse } from "yaml";

const [outdir, ...files] = process.argv.slice(2);
let status = 0;
files.forEach((file, i) => {
	try {
		const doc = parse(readFileSync(file, "utf8"), { version: "1.2", schema: "core" });
		const name = `${String(i).padStart(3, "0")}-${basename(file).replace(/\.ya?ml$/, "")}.json`;
		writeFileSync(`${outdir}/${name}`, JSON.stringify(doc));
	} catch (e) {
		console.error(`${file}: ${e.message}`);
		status = 1;
	}
});
process.exit(status);
