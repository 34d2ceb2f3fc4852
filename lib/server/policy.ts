/**
 * Key policies: a subset of AWS's IAM policy grammar, enough for per-key
 * access control. A document is JSON:
 *
 *   { "Version": "2012-10-17",
 *     "Statement": [{ "Effect": "Allow" | "Deny",
 *                     "Principal": "*" | { "AWS": name | ARN | [...] },
 *                     "Action": "kms:Encrypt" | "kms:Generate*" | "kms:*" | [...],
 *                     "Resource": "*",
 *                     "Condition": { "StringEquals": { "kms:EncryptionContext:tenant": "acme" } } }] }
 *
 * Principals are credential-profile names, or `arn:aws:iam::<account>:user/<name>`.
 * Condition operators: String(Not)Equals, String(Not)Like, StringEqualsIgnoreCase,
 * each with an optional `IfExists` suffix and `ForAllValues:`/`ForAnyValue:` prefix;
 * keys: `kms:EncryptionContext:<key>`, `kms:EncryptionContextKeys`,
 * `kms:CallerAccount`, `aws:username`, `aws:PrincipalArn`. An explicit Deny wins,
 * then any Allow; otherwise the request is denied. Anything outside the
 * grammar is refused when the policy is set, never silently ignored.
 */
import { malformedPolicy } from './aws-errors.js';

type Operator = 'StringEquals' | 'StringNotEquals' | 'StringLike' | 'StringNotLike' | 'StringEqualsIgnoreCase';
const OPERATORS: ReadonlySet<string> = new Set(['StringEquals', 'StringNotEquals', 'StringLike', 'StringNotLike', 'StringEqualsIgnoreCase']);

interface Condition {
  operator: Operator;
  set: 'ForAllValues' | 'ForAnyValue' | null;
  ifExists: boolean;
  key: string;
  values: string[];
}

interface Statement {
  effect: 'Allow' | 'Deny';
  /** `null`: any principal. */
  principals: string[] | null;
  actions: RegExp[];
  conditions: Condition[];
}

/** A checked policy, ready to evaluate. */
export interface Policy {
  readonly statements: readonly Statement[];
}

/** What a request brings to a policy decision. */
export interface PolicyRequest {
  /** The profile name of the caller. */
  principal: string;
  /** `arn:aws:iam::<account>:user/<principal>`. */
  principalArn: string;
  account: string;
  /** `kms:<Operation>`. */
  action: string;
  /** The encryption context the operation uses, if any. */
  context: Readonly<Record<string, string>> | undefined;
  /** The request's algorithm parameters. */
  parameters?: RequestParameters;
}

/** Condition keys whose value is a request parameter (kms:KeySpec and kms:KeyUsage: the key's, or CreateKey's request). */
const PARAMETER_KEY_NAMES = [
  'kms:EncryptionAlgorithm', 'kms:SigningAlgorithm', 'kms:MacAlgorithm', 'kms:MessageType', 'kms:KeySpec', 'kms:KeyUsage',
] as const;
type ParameterKey = (typeof PARAMETER_KEY_NAMES)[number];

/** A request's values of the parameter condition keys (absent: not in the request). */
export type RequestParameters = Readonly<Partial<Record<ParameterKey, string>>>;

/** The parameter condition keys by lower-case name (condition keys are case-insensitive). */
const PARAMETER_KEYS: ReadonlyMap<string, ParameterKey> = new Map(PARAMETER_KEY_NAMES.map((key) => [key.toLowerCase(), key]));

/** The ARN a principal has in policies. */
export function principalArn(principal: string, account: string): string {
  return `arn:aws:iam::${account}:user/${principal}`;
}

/** The policy a key gets when its creator gives none: the creator may do everything (the admin always may). */
export function defaultKeyPolicy(creator: string, account: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'hsmkms-default',
    Statement: [{ Sid: 'Creator', Effect: 'Allow', Principal: { AWS: principalArn(creator, account) }, Action: 'kms:*', Resource: '*' }],
  });
}

/** Operations that name no key: any authenticated principal may call them unless an account policy says otherwise. */
export const DEFAULT_ACCOUNT_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: ['kms:CreateKey', 'kms:ListKeys', 'kms:ListAliases', 'kms:GenerateRandom'], Resource: '*' }],
});

function strings(where: string, value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string')) {
    throw malformedPolicy(`${where} must be a string or a non-empty array of strings`);
  }
  return list as string[];
}

function glob(pattern: string, flags = ''): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}

function parsePrincipal(value: unknown): string[] | null {
  if (value === '*') return null;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === 'AWS') {
      const names = strings('Principal.AWS', entries[0]![1]);
      return names.includes('*') ? null : names;
    }
  }
  throw malformedPolicy('Principal must be "*" or {"AWS": names or ARNs}');
}

function parseActions(value: unknown): RegExp[] {
  return strings('Action', value).map((action) => {
    if (action !== '*' && !/^kms:[A-Za-z*?]+$/.test(action)) throw malformedPolicy(`Unknown action ${JSON.stringify(action).slice(0, 80)}`);
    return glob(action === '*' ? 'kms:*' : action, 'i');
  });
}

function parseConditions(value: unknown): Condition[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformedPolicy('Condition must be an object');
  const out: Condition[] = [];
  for (const [name, block] of Object.entries(value)) {
    const match = /^(?:(ForAllValues|ForAnyValue):)?(\w+?)(IfExists)?$/.exec(name);
    if (match === null || !OPERATORS.has(match[2]!)) throw malformedPolicy(`Unsupported condition operator ${name.slice(0, 80)}`);
    if (typeof block !== 'object' || block === null || Array.isArray(block)) throw malformedPolicy(`${name} must map condition keys to values`);
    for (const [key, values] of Object.entries(block)) {
      if (!/^(kms:EncryptionContext:.+|kms:EncryptionContextKeys|kms:CallerAccount|aws:username|aws:PrincipalArn)$/i.test(key) && !PARAMETER_KEYS.has(key.toLowerCase())) {
        throw malformedPolicy(`Unsupported condition key ${key.slice(0, 80)}`);
      }
      out.push({
        operator: match[2] as Operator,
        set: (match[1] as Condition['set']) ?? null,
        ifExists: match[3] !== undefined,
        key,
        values: strings(`${name}.${key}`, values),
      });
    }
  }
  return out;
}

/** Checks a policy document; MalformedPolicyDocumentException if it is not in the grammar. */
export function parsePolicy(text: string): Policy {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw malformedPolicy('The policy is not valid JSON');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw malformedPolicy('The policy must be a JSON object');
  const raw = (document as { Statement?: unknown }).Statement;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const statements = list.map((s: unknown): Statement => {
    if (typeof s !== 'object' || s === null) throw malformedPolicy('Each statement must be an object');
    const st = s as Record<string, unknown>;
    for (const unsupported of ['NotAction', 'NotPrincipal', 'NotResource']) {
      if (unsupported in st) throw malformedPolicy(`${unsupported} is not supported`);
    }
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') throw malformedPolicy('Effect must be "Allow" or "Deny"');
    return { effect: st.Effect, principals: parsePrincipal(st.Principal), actions: parseActions(st.Action), conditions: parseConditions(st.Condition) };
  });
  return { statements };
}

/** The value(s) a condition key has for a request; `undefined` when absent. */
function conditionValues(key: string, request: PolicyRequest): string[] | undefined {
  const lower = key.toLowerCase();
  if (lower.startsWith('kms:encryptioncontext:')) {
    const contextKey = key.slice('kms:EncryptionContext:'.length);
    const value = request.context?.[contextKey];
    return value === undefined ? undefined : [value];
  }
  if (lower === 'kms:encryptioncontextkeys') return request.context === undefined ? undefined : Object.keys(request.context);
  if (lower === 'kms:calleraccount') return [request.account];
  const parameter = PARAMETER_KEYS.get(lower);
  if (parameter !== undefined) {
    const value = request.parameters?.[parameter];
    return value === undefined ? undefined : [value];
  }
  if (lower === 'aws:username') return [request.principal];
  return [request.principalArn];
}

function valueMatches(operator: Operator, value: string, expected: string): boolean {
  switch (operator) {
    case 'StringEquals':
    case 'StringNotEquals':
      return value === expected;
    case 'StringEqualsIgnoreCase':
      return value.toLowerCase() === expected.toLowerCase();
    default:
      return glob(expected).test(value);
  }
}

function conditionHolds(c: Condition, request: PolicyRequest): boolean {
  const negated = c.operator === 'StringNotEquals' || c.operator === 'StringNotLike';
  const values = conditionValues(c.key, request);
  if (values === undefined || values.length === 0) {
    if (c.set === 'ForAllValues') return true;
    return c.ifExists || (negated && c.set === null);
  }
  const one = (value: string): boolean => {
    const any = c.values.some((expected) => valueMatches(c.operator, value, expected));
    return negated ? !any : any;
  };
  if (c.set === 'ForAnyValue') return values.some(one);
  return values.every(one);
}

function statementApplies(s: Statement, request: PolicyRequest): boolean {
  if (s.principals !== null && !s.principals.includes(request.principal) && !s.principals.includes(request.principalArn)) return false;
  if (!s.actions.some((a) => a.test(request.action))) return false;
  return s.conditions.every((c) => conditionHolds(c, request));
}

/** True when the policy allows the request (an explicit Deny wins; no matching Allow denies). */
export function policyAllows(policy: Policy, request: PolicyRequest): boolean {
  let allowed = false;
  for (const s of policy.statements) {
    if (!statementApplies(s, request)) continue;
    if (s.effect === 'Deny') return false;
    allowed = true;
  }
  return allowed;
}
