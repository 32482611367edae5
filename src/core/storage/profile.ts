import { isIP } from 'net';

export type AddressingStyle = 'auto' | 'path' | 'virtual';

/** What the user typed, in settings, flags or the environment. */
export interface ProfileInput {
  endpoint?: string;
  region?: string;
  bucket?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  rootPath?: string;
  addressingStyle?: string;
}

/** A profile the engine can use as is. `forcePathStyle` is `addressingStyle` resolved for the endpoint. */
export interface Profile {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  rootPath: string;
  addressingStyle: AddressingStyle;
  forcePathStyle: boolean;
}

export type ProfileField =
  | 'endpoint'
  | 'region'
  | 'bucket'
  | 'accessKeyId'
  | 'secretAccessKey'
  | 'rootPath'
  | 'addressingStyle';

/**
 * `code` is API (the VS Code face translates by it): required, endpointInvalid,
 * endpointScheme, endpointCredentials, endpointQuery, endpointPath,
 * regionInvalid, regionMismatch, bucketInvalid, bucketMismatch,
 * accessKeyIdInvalid, secretAccessKeyInvalid, rootPathEmptySegment,
 * rootPathDotSegment, rootPathBackslash, rootPathInvalid, addressingStyleInvalid.
 */
export interface FieldError {
  field: ProfileField;
  code: string;
  message: string;
}

export type NormalizeResult = { ok: true; profile: Profile; notes: string[] } | { ok: false; errors: FieldError[] };

const DEFAULT_REGION = 'us-east-1';

type Provider = 'aws' | 'r2' | 'oss' | 'cos' | 'other';

interface HostInfo {
  provider: Provider;
  /** The server's own host (bucket taken out), lower case. */
  host: string;
  /** The bucket found in the host, if any. */
  bucket?: string;
  /** The region the host names, if any. */
  region?: string;
}

const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$/;

/**
 * Recognises the providers whose host names carry the region (and, in their
 * virtual-host form, the bucket), so a pasted bucket URL becomes the real
 * endpoint plus a bucket. Returns `other` for anything else.
 */
function classifyHost(host: string): HostInfo {
  const aws = /^(?:(.*)\.)?(amazonaws\.com(?:\.cn)?)$/.exec(host);
  if (aws) {
    const suffix = aws[2];
    const labels = aws[1] ? aws[1].split('.') : [];
    const i = labels.findIndex((l) => l === 's3' || l.startsWith('s3-'));
    if (i >= 0) {
      const bucket = i > 0 ? labels.slice(0, i).join('.') : undefined;
      const s3Label = labels[i];
      const rest = labels.slice(i + 1);
      const dualstack = rest.includes('dualstack') || s3Label === 's3-dualstack';
      const fips = s3Label === 's3-fips' || rest.includes('fips');
      let region = rest.find((l) => AWS_REGION.test(l));
      if (!region && s3Label.startsWith('s3-')) {
        const r = s3Label.slice(3);
        if (AWS_REGION.test(r)) region = r;
        else if (r === 'external-1') region = 'us-east-1';
      }
      if (!region && rest.length === 0) region = 'us-east-1';
      const mid = [fips ? 's3-fips' : 's3', dualstack ? 'dualstack' : undefined, region].filter(Boolean).join('.');
      return { provider: 'aws', host: `${mid}.${suffix}`, bucket, region };
    }
    // `<bucket>.<region>.amazonaws.com`: not a real AWS form, but it is what
    // people paste after reading a bucket URL quickly.
    if (labels.length >= 2 && AWS_REGION.test(labels[labels.length - 1])) {
      const region = labels[labels.length - 1];
      return { provider: 'aws', host: `s3.${region}.${suffix}`, bucket: labels.slice(0, -1).join('.'), region };
    }
    return { provider: 'other', host };
  }

  const r2 = /^(?:(.*)\.)?r2\.cloudflarestorage\.com$/.exec(host);
  if (r2) {
    const labels = r2[1] ? r2[1].split('.') : [];
    // `<bucket>.<account>[.<jurisdiction>].r2.cloudflarestorage.com`
    let j = labels.length - 1;
    const jurisdiction = j >= 1 && (labels[j] === 'eu' || labels[j] === 'fedramp') ? labels[j--] : undefined;
    const account = j >= 0 ? labels[j] : undefined;
    const bucket = j > 0 ? labels.slice(0, j).join('.') : undefined;
    const server = [account, jurisdiction, 'r2', 'cloudflarestorage', 'com'].filter(Boolean).join('.');
    return { provider: 'r2', host: server, bucket, region: 'auto' };
  }

  const oss = /^(?:(.*)\.)?aliyuncs\.com$/.exec(host);
  if (oss) {
    const labels = oss[1] ? oss[1].split('.') : [];
    const i = labels.findIndex((l) => l.startsWith('oss-'));
    if (i >= 0) {
      const m = /^oss-(.+?)(-internal)?$/.exec(labels[i]);
      const region = m && !m[1].startsWith('accelerate') ? m[1] : undefined;
      let before = labels.slice(0, i);
      const s3Prefix = before.length > 0 && before[before.length - 1] === 's3';
      if (s3Prefix) before = before.slice(0, -1);
      const server = [s3Prefix ? 's3' : undefined, ...labels.slice(i), 'aliyuncs', 'com'].filter(Boolean).join('.');
      return { provider: 'oss', host: server, bucket: before.length ? before.join('.') : undefined, region };
    }
    return { provider: 'oss', host };
  }

  const cos = /^(?:(.*)\.)?myqcloud\.com$/.exec(host);
  if (cos) {
    const labels = cos[1] ? cos[1].split('.') : [];
    const i = labels.findIndex((l) => l === 'cos' || l === 'cos-internal');
    if (i >= 0 && i + 1 < labels.length) {
      const region = labels[i + 1];
      const server = [...labels.slice(i), 'myqcloud', 'com'].join('.');
      return { provider: 'cos', host: server, bucket: i > 0 ? labels.slice(0, i).join('.') : undefined, region };
    }
    return { provider: 'cos', host };
  }

  return { provider: 'other', host };
}

function isLocalHost(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  return isIP(bare) !== 0 || bare === 'localhost' || bare.endsWith('.localhost');
}

/**
 * Checks and cleans a connection profile. Returns either a profile the engine
 * can use, with notes on what was changed, or one error per bad field (a plain
 * sentence naming the field, plus a stable `code`). Never throws. The result is
 * stable: normalizing a normalized profile gives the same profile.
 */
export function normalizeProfile(input: ProfileInput, opts?: { requireCredentials?: boolean }): NormalizeResult {
  const errors: FieldError[] = [];
  const notes: string[] = [];
  const fail = (field: ProfileField, code: string, message: string): void => {
    if (!errors.some((e) => e.field === field)) errors.push({ field, code, message });
  };
  const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

  let region = text(input.region);
  let bucket = text(input.bucket);
  const accessKeyId = text(input.accessKeyId);
  const secretAccessKey = text(input.secretAccessKey);

  // Addressing style first: the endpoint rules below depend on it.
  const styleText = text(input.addressingStyle).toLowerCase();
  let addressingStyle: AddressingStyle = 'auto';
  if (styleText === 'path' || styleText === 'virtual' || styleText === 'auto') addressingStyle = styleText;
  else if (styleText !== '') fail('addressingStyle', 'addressingStyleInvalid', 'Addressing style must be auto, path or virtual.');

  // Endpoint.
  let endpoint = '';
  let info: HostInfo | undefined;
  let autoStyle: 'path' | 'virtual' | undefined;
  let raw = text(input.endpoint);
  if (raw === '') {
    fail('endpoint', 'required', 'Endpoint is required (for example https://s3.eu-west-1.amazonaws.com).');
  } else {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw);
    if (!scheme) {
      raw = `https://${raw}`;
      notes.push('https:// was added to the endpoint.');
    }
    let url: URL | undefined;
    try {
      url = new URL(raw);
    } catch {
      fail('endpoint', 'endpointInvalid', 'Endpoint is not a valid address.');
    }
    if (url) {
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        fail('endpoint', 'endpointScheme', 'Endpoint must start with https:// or http://.');
      } else if (!url.hostname) {
        fail('endpoint', 'endpointInvalid', 'Endpoint has no host name.');
      } else if (url.username || url.password) {
        fail('endpoint', 'endpointCredentials', 'Endpoint must not contain a user name or password; use the key fields.');
      } else if (url.search || url.hash) {
        fail('endpoint', 'endpointQuery', 'Endpoint must not contain a query (?) or fragment (#).');
      } else {
        const host = url.hostname.toLowerCase();
        const segments = url.pathname.split('/').filter((s) => s !== '');
        info = isLocalHost(host) || url.port ? { provider: 'other', host } : classifyHost(host);

        // Bucket in the host.
        if (info.bucket !== undefined) {
          if (bucket === '') {
            bucket = info.bucket;
            notes.push(`The bucket "${bucket}" was taken from the endpoint.`);
          } else if (bucket !== info.bucket) {
            fail('bucket', 'bucketMismatch', `Bucket "${bucket}" does not match the bucket "${info.bucket}" in the endpoint.`);
          } else {
            notes.push('The bucket name was removed from the endpoint.');
          }
          autoStyle = 'virtual';
        } else if (info.provider === 'other' && bucket !== '' && host.startsWith(`${bucket.toLowerCase()}.`) && !isLocalHost(host)) {
          // An unknown provider's virtual-host form: only recognisable by the bucket field.
          info = { ...info, host: host.slice(bucket.length + 1) };
          notes.push('The bucket name was removed from the endpoint.');
          autoStyle = 'virtual';
        }

        // A path: only `/<bucket>` makes sense (the path-style form of a bucket URL).
        if (segments.length === 1) {
          let seg = segments[0];
          try {
            seg = decodeURIComponent(seg);
          } catch {
            // keep it as typed
          }
          if (info.bucket !== undefined) {
            fail('endpoint', 'endpointPath', 'Endpoint must not have a path when its host already names the bucket.');
          } else if (bucket === '' || bucket === seg) {
            if (bucket === '') notes.push(`The bucket "${seg}" was taken from the endpoint.`);
            else notes.push('The bucket name was removed from the endpoint.');
            bucket = seg;
            autoStyle = 'path';
          } else {
            fail('endpoint', 'endpointPath', `Endpoint has a path that is not the bucket "${bucket}"; remove the path.`);
          }
        } else if (segments.length > 1) {
          fail('endpoint', 'endpointPath', 'Endpoint must be the server address only, without a path; put folders in Root path.');
        }

        if (info.region) {
          if (region === '') {
            region = info.region;
            if (info.provider !== 'r2') notes.push(`The region "${region}" was taken from the endpoint.`);
          } else if (info.provider === 'aws' && region !== info.region) {
            fail('region', 'regionMismatch', `Region "${region}" does not match the endpoint, which is in "${info.region}".`);
          }
        }

        const port = url.port ? `:${url.port}` : '';
        const h = info.host.includes(':') && !info.host.startsWith('[') ? `[${info.host}]` : info.host;
        endpoint = `${url.protocol}//${h}${port}`;
      }
    }
  }

  // Region.
  if (region === '') {
    region = DEFAULT_REGION;
    notes.push(`The region was set to ${DEFAULT_REGION}.`);
  } else if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(region)) {
    fail('region', 'regionInvalid', 'Region may contain only letters, digits, "-" and "_" (for example eu-west-1, or auto for Cloudflare R2).');
  }

  // Bucket.
  if (bucket === '') {
    fail('bucket', 'required', 'Bucket is required.');
  } else if (!/^[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]$/.test(bucket) || bucket.length < 3 || bucket.length > 255) {
    fail('bucket', 'bucketInvalid', 'Bucket must be 3 to 255 letters, digits, ".", "-" or "_", starting and ending with a letter or digit.');
  }

  // Credentials.
  if (/\s/.test(accessKeyId)) {
    fail('accessKeyId', 'accessKeyIdInvalid', 'Access key ID must not contain spaces.');
  } else if (accessKeyId === '' && opts?.requireCredentials) {
    fail('accessKeyId', 'required', 'Access key ID is required.');
  }
  if (/\s/.test(secretAccessKey)) {
    fail('secretAccessKey', 'secretAccessKeyInvalid', 'Secret access key must not contain spaces.');
  } else if (secretAccessKey === '' && opts?.requireCredentials) {
    fail('secretAccessKey', 'required', 'Secret access key is required.');
  }

  // Root path.
  let rootPath = text(input.rootPath);
  if (rootPath.includes('\\')) {
    fail('rootPath', 'rootPathBackslash', 'Root path must use "/" between folders, not "\\".');
  } else if (/[\u0000-\u001f\u007f]/.test(rootPath)) {
    fail('rootPath', 'rootPathInvalid', 'Root path must not contain control characters.');
  } else {
    const trimmed = rootPath.replace(/^\/+/, '').replace(/\/+$/, '');
    const segs = trimmed === '' ? [] : trimmed.split('/');
    if (segs.some((s) => s === '.' || s === '..')) {
      fail('rootPath', 'rootPathDotSegment', 'Root path must not contain "." or ".." folders.');
    } else if (segs.some((s) => s.trim() === '')) {
      fail('rootPath', 'rootPathEmptySegment', 'Root path must not contain empty folder names ("//").');
    } else if (Buffer.byteLength(trimmed) > 512) {
      fail('rootPath', 'rootPathInvalid', 'Root path is too long (at most 512 bytes).');
    }
    rootPath = trimmed;
  }

  if (errors.length > 0) return { ok: false, errors };

  let forcePathStyle: boolean;
  if (addressingStyle === 'path') forcePathStyle = true;
  else if (addressingStyle === 'virtual') forcePathStyle = false;
  else if (autoStyle) {
    forcePathStyle = autoStyle === 'path';
    // Recorded so that normalizing this profile again keeps the style the endpoint implied.
    const provider = info?.provider ?? 'other';
    const impliedByHost = provider === 'aws' || provider === 'oss' || provider === 'cos' ? 'virtual' : 'path';
    if (autoStyle !== impliedByHost) addressingStyle = autoStyle;
  } else {
    const provider = info?.provider ?? 'other';
    forcePathStyle = !(provider === 'aws' || provider === 'oss' || provider === 'cos');
  }

  return {
    ok: true,
    profile: { endpoint, region, bucket, accessKeyId, secretAccessKey, rootPath, addressingStyle, forcePathStyle },
    notes,
  };
}

/**
 * True when the endpoint is plain http:// to another machine: the access key
 * ID, the request signatures and every backup cross the network unencrypted.
 * Loopback (127.0.0.0/8, ::1, localhost) stays on this computer.
 */
export function isCleartextEndpoint(endpoint: string): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:') return false;
  return !isLoopback(url.hostname);
}

function isLoopback(hostname: string): boolean {
  const host = (hostname.startsWith('[') ? hostname.slice(1, -1) : hostname).toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:(127\.|7f[0-9a-f]{2}:)/.test(host) || /^(0+:){7}0*1$/.test(host);
  return false;
}
