// The storage providers the settings page offers, and what picking one fills
// in. Shared by the page and its tests, so it imports nothing. Names, URL
// shapes and region codes are not translated; the hints are (StringKey).

import type { AddressingStyleChoice, StringKey } from './protocol';

export const PROVIDER_IDS = ['aws', 'r2', 'oss', 'cos', 'minio', 'ceph', 'other'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export interface Provider {
  id: ProviderId;
  /** The provider's own name, shown as it is in every language. */
  name: string;
  /** The endpoint for a region; `{region}` is replaced, `{account}` is left for the user to type over. */
  endpoint?: string;
  /** The region filled in when the field is empty. */
  region?: string;
  /** Shown under the region field while this provider is picked. */
  regionHint: StringKey;
  addressingStyle: AddressingStyleChoice;
  /** Recognises a saved endpoint as this provider's. */
  matches?: RegExp;
}

export const PROVIDERS: readonly Provider[] = [
  {
    id: 'aws',
    name: 'AWS S3',
    endpoint: 'https://s3.{region}.amazonaws.com',
    region: 'us-east-1',
    regionHint: 'regionHintAws',
    addressingStyle: 'auto',
    matches: /^https:\/\/(?:[^/]+\.)?s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com(?:\.cn)?\/?$/i,
  },
  {
    id: 'r2',
    name: 'Cloudflare R2',
    endpoint: 'https://{account}.r2.cloudflarestorage.com',
    region: 'auto',
    regionHint: 'regionHintR2',
    addressingStyle: 'auto',
    matches: /\.r2\.cloudflarestorage\.com\/?$/i,
  },
  {
    id: 'oss',
    name: 'Alibaba OSS',
    endpoint: 'https://oss-{region}.aliyuncs.com',
    region: 'cn-hangzhou',
    regionHint: 'regionHintOss',
    addressingStyle: 'virtual',
    matches: /\.aliyuncs\.com\/?$/i,
  },
  {
    id: 'cos',
    name: 'Tencent COS',
    endpoint: 'https://cos.{region}.myqcloud.com',
    region: 'ap-guangzhou',
    regionHint: 'regionHintCos',
    addressingStyle: 'virtual',
    matches: /\.myqcloud\.com\/?$/i,
  },
  {
    id: 'minio',
    name: 'MinIO',
    endpoint: 'http://localhost:9000',
    region: 'us-east-1',
    regionHint: 'regionHintSelfHosted',
    addressingStyle: 'path',
    matches: /:9000\/?$/,
  },
  {
    id: 'ceph',
    name: 'Ceph',
    endpoint: 'http://localhost:7480',
    region: 'us-east-1',
    regionHint: 'regionHintSelfHosted',
    addressingStyle: 'path',
    matches: /:7480\/?$/,
  },
  { id: 'other', name: '', regionHint: 'regionHint', addressingStyle: 'auto' },
];

/** The placeholder a user types over in R2's endpoint. */
export const ACCOUNT_PLACEHOLDER = '<account-id>';

export function providerById(id: string): Provider {
  return PROVIDERS.find((p) => p.id === id) ?? PROVIDERS[PROVIDERS.length - 1];
}

/** The provider a saved endpoint belongs to ("other" when none says so). */
export function detectProvider(endpoint: string): Provider {
  const e = endpoint.trim();
  if (!e) return providerById('other');
  return PROVIDERS.find((p) => p.matches?.test(e)) ?? providerById('other');
}

/** The endpoint `p` suggests for `region` (its default region when empty), or undefined for "other". */
export function providerEndpoint(p: Provider, region: string): string | undefined {
  if (!p.endpoint) return undefined;
  return p.endpoint.replace('{region}', region.trim() || p.region || '').replace('{account}', ACCOUNT_PLACEHOLDER);
}

/**
 * What picking `p` puts into the form. The endpoint follows the region for
 * providers whose host names it (AWS, OSS, COS); a region the user typed is
 * kept unless it cannot be right (R2 is always "auto").
 */
export function applyProvider(
  p: Provider,
  current: { endpoint: string; region: string },
): { endpoint: string; region: string; addressingStyle: AddressingStyleChoice } | undefined {
  if (p.id === 'other') return undefined;
  const keepRegion = current.region.trim() !== '' && p.id !== 'r2' && p.endpoint?.includes('{region}');
  const region = keepRegion ? current.region.trim() : (p.region ?? '');
  return { endpoint: providerEndpoint(p, region) ?? current.endpoint, region, addressingStyle: p.addressingStyle };
}
