/**
 * Discord's own description of its REST API, as the fake Discord checks every request against it:
 * the official OpenAPI document (github.com/discord/discord-api-spec, `specs/openapi.json`) as
 * the npm package `discord-api-spec` publishes it, generated daily from that repository: TypeScript
 * types with the path → request-body mapping (`Paths`, in build/discord-api-spec.ts) and a zod
 * schema per type (build/discord-api-spec.zod.js).
 *
 * Version in use: discord-api-spec 10.0.266135, published 2026-09-23 (devDependencies in
 * package.json). To refresh it: `npm install --save-dev --save-exact discord-api-spec@latest`,
 * then run the Discord tests (`npx vitest run test/fake-discord.test.ts test/discord-*.test.ts`):
 * a request the new description refuses shows up as a `spec` violation naming the field.
 *
 * What is checked, per request: that (method, path) is a route of the description (its template,
 * `/channels/{channel_id}/messages`, literal segments such as `@original` before parameters), and
 * that the JSON body, or the `payload_json` part of a multipart body, matches the route's request
 * body schema. Objects are checked strictly (a key the description does not have is a problem):
 * Discord ignores fields it does not know (assumed: the reference says nothing either way), so a
 * misspelt field would silently do nothing; the package's `setStrictObject(true)` asks for exactly
 * this, but takes effect only for schemas built after it is called, so the schemas are loaded from
 * a copy of the module that starts strict (under node_modules/.cache, nothing vendored).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const SPEC_PACKAGE = { name: 'discord-api-spec', version: '10.0.266135', published: '2026-09-23' } as const;

type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';

/** One route of the description: its template and what its request body may be. */
export interface SpecRoute {
  method: Method;
  template: string;
  /** The request body's type expression as the package writes it (`MessageCreateRequest`, `X[] | null`), or undefined when the route takes none. */
  requestBody?: string;
}

/** A zod (mini) schema, as far as the fake uses it. */
interface Schema {
  safeParse(value: unknown): { success: true } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string; code: string; keys?: string[] }> } };
}

/** The package's folder: the nearest node_modules above this file (it runs from test/ and, for the benches, from dist/test/). */
function packageDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', SPEC_PACKAGE.name);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`${SPEC_PACKAGE.name} is not installed: run npm ci (it is a devDependency).`);
  }
}
const PACKAGE_DIR = packageDir();

/** Reads `Paths` from the package's types: for each path and method, the request body's type expression. */
export function readRoutes(typesSource: string = readFileSync(join(PACKAGE_DIR, 'build', 'discord-api-spec.ts'), 'utf8')): SpecRoute[] {
  const lines = typesSource.split('\n');
  const start = lines.findIndex((line) => line.startsWith('export interface Paths {'));
  if (start < 0) throw new Error(`${SPEC_PACKAGE.name}: no "export interface Paths" in its types; has the package changed its layout?`);
  const routes: SpecRoute[] = [];
  let template: string | undefined;
  let route: SpecRoute | undefined;
  for (let i = start + 1; i < lines.length && lines[i] !== '}'; i++) {
    const line = lines[i];
    const path = /^ {2}"(\/[^"]*)": \{$/.exec(line);
    if (path) {
      template = path[1];
      continue;
    }
    const method = /^ {4}(get|put|post|patch|delete): \{$/.exec(line);
    if (method && template) {
      route = { method: method[1] as Method, template };
      routes.push(route);
      continue;
    }
    const body = /^ {6}requestBody\??:(.*)$/.exec(line);
    if (body && route) {
      // The expression runs to its `;`, over several lines for a union (`| A` on each line).
      let expression = body[1];
      while (!expression.trimEnd().endsWith(';') && i + 1 < lines.length) expression += ` ${lines[++i].trim()}`;
      const text = expression.trim().replace(/;$/, '').replace(/\s+/g, ' ').replace(/^\| /, '');
      if (text !== 'undefined') route.requestBody = text;
    }
  }
  return routes;
}

/** The route a request takes: the template whose segments match, literal segments preferred to parameters. */
export function findRoute(routes: readonly SpecRoute[], method: string, path: string): SpecRoute | undefined {
  const segments = path.split('/').slice(1);
  let best: { route: SpecRoute; literals: number } | undefined;
  for (const route of routes) {
    if (route.method !== method.toLowerCase()) continue;
    const parts = route.template.split('/').slice(1);
    if (parts.length !== segments.length) continue;
    let literals = 0;
    const fits = parts.every((part, i) => {
      if (/^\{[^}]+\}$/.test(part)) return segments[i].length > 0;
      if (part === segments[i]) literals += 1;
      return part === segments[i];
    });
    if (fits && (!best || literals > best.literals)) best = { route, literals };
  }
  return best?.route;
}

/** The package's zod schemas, every object strict. Loaded once. */
let strictSchemas: Promise<Record<string, unknown>> | undefined;

function loadStrictSchemas(): Promise<Record<string, unknown>> {
  strictSchemas ??= (async () => {
    const source = readFileSync(join(PACKAGE_DIR, 'build', 'discord-api-spec.zod.js'), 'utf8');
    const lenient = 'let zObject = z.object;';
    if (!source.includes(lenient)) throw new Error(`${SPEC_PACKAGE.name}: its zod module no longer starts with "${lenient}"; see how it makes objects strict now.`);
    // Under node_modules, so that the test runner imports it as a dependency and `zod/mini` resolves as the package's own import does.
    const dir = join(dirname(PACKAGE_DIR), '.cache', 'gas-fake-discord');
    const file = join(dir, `discord-api-spec-${SPEC_PACKAGE.version}.strict.zod.mjs`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, source.replace(lenient, 'let zObject = z.strictObject;'));
    }
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  })();
  return strictSchemas;
}

/** A schema for one alternative of a type expression (`Name`, `Name[]`, `null`); undefined for an inline object type. */
function alternative(text: string, schemas: Record<string, unknown>): Schema | 'null' | undefined {
  if (text === 'null') return 'null';
  const array = /^(\w+)\[\]$/.exec(text);
  const name = array ? array[1] : /^\w+$/.test(text) ? text : undefined;
  if (!name) return undefined;
  const schema = schemas[`${name}Schema`] as Schema | undefined;
  if (!schema) throw new Error(`${SPEC_PACKAGE.name}: no ${name}Schema in its zod module`);
  if (!array) return schema;
  return {
    safeParse(value) {
      if (!Array.isArray(value)) return { success: false, error: { issues: [{ path: [], message: 'Expected an array', code: 'invalid_type' }] } };
      for (const [i, item] of value.entries()) {
        const result = schema.safeParse(item);
        if (!result.success) return { success: false, error: { issues: result.error.issues.map((issue) => ({ ...issue, path: [i, ...issue.path] })) } };
      }
      return { success: true };
    },
  };
}

/**
 * Keys discord.js writes into every message body it builds (node_modules/discord.js/src/structures/
 * MessagePayload.js: `tts`, `nonce`, `enforce_nonce`), interaction replies and webhook edits too.
 * They are fields of Create Message (docs: resources/message#create-message) that the description
 * does not list for webhook and interaction bodies; Discord ignores them there (assumed), so they
 * are not held against a request at the top of a body or of a callback's `data`.
 */
const TOLERATED_KEYS = new Set(['tts', 'nonce', 'enforce_nonce']);

function tolerated(issue: { path: PropertyKey[]; code: string; keys?: string[] }): boolean {
  const atTop = issue.path.length === 0 || (issue.path.length === 1 && issue.path[0] === 'data');
  return issue.code === 'unrecognized_keys' && atTop && (issue.keys ?? []).every((key) => TOLERATED_KEYS.has(key));
}

const describeIssue = (issue: { path: PropertyKey[]; message: string; code: string; keys?: string[] }) =>
  `${issue.path.map(String).join('.') || '(body)'}: ${issue.code === 'unrecognized_keys' ? `unknown key${issue.keys!.length > 1 ? 's' : ''} ${issue.keys!.join(', ')}` : issue.message}`;

export interface SpecChecker {
  /** What is wrong with a request by Discord's description: nothing when it fits. `route` is the template it matched. */
  check(method: string, path: string, body: unknown): { route?: string; problems: string[] };
}

export async function loadSpecChecker(): Promise<SpecChecker> {
  const routes = readRoutes();
  const schemas = await loadStrictSchemas();
  return {
    check(method, path, body) {
      const route = findRoute(routes, method, path);
      if (!route) return { problems: [`${method} ${path} is not a route of Discord's API description`] };
      const where = `${method} ${route.template}`;
      if (!route.requestBody) return { route: where, problems: body === undefined ? [] : [`${where} takes no request body`] };
      if (body === undefined) return { route: where, problems: [] };
      const alternatives = route.requestBody.split(' | ').map((text) => alternative(text, schemas));
      if (alternatives.includes(undefined)) return { route: where, problems: [] }; // an inline object type: not described by a schema of its own
      // Of a union's alternatives, the problems of the closest: one whose `type` fits, with the fewest issues.
      let closest: { problems: string[]; typeFits: boolean } | undefined;
      for (const candidate of alternatives) {
        if (candidate === 'null') {
          if (body === null) return { route: where, problems: [] };
          continue;
        }
        const result = candidate!.safeParse(body);
        const issues = result.success ? [] : result.error.issues.filter((issue) => !tolerated(issue));
        if (issues.length === 0) return { route: where, problems: [] };
        const typeFits = !issues.some((issue) => issue.path.length === 1 && issue.path[0] === 'type');
        const problems = issues.map(describeIssue);
        if (!closest || (typeFits && !closest.typeFits) || (typeFits === closest.typeFits && problems.length < closest.problems.length)) closest = { problems, typeFits };
      }
      return { route: where, problems: (closest?.problems ?? ['does not match']).map((problem) => `${where}: ${problem}`) };
    },
  };
}
