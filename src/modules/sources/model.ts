/** Schemas of the source endpoints, each paired with its type. */
import { t } from 'elysia'
import { component, literalUnion, nullableTime } from '../../lib/model-fields'
import { pageQuery, pageSchema } from '../../lib/pagination'
import { MAX_KEY_RATE_LIMIT } from '../api-keys/model'
import { PRESET_NAMES } from './presets/types'

/** Longest signing secret, verify token or access token accepted (Facebook page tokens run to a few hundred characters). */
export const MAX_SOURCE_SECRET_LENGTH = 1024

const sourceFields = {
  id: t.String({ format: 'uuid' }),
  object: t.Literal('source'),
  name: t.String(),
  preset: literalUnion(PRESET_NAMES, { description: 'The tool the source reads: its payload mapping and signature check.' }),
  prefix: t.String({ description: 'The first characters of the token, e.g. `src_3fA9…`: enough to recognise the URL, never enough to use it.' }),
  has_signing_secret: t.Boolean({ description: 'Whether signatures are checked with a signing secret (never returned).' }),
  has_verify_token: t.Boolean({ description: "Whether a verify token is set for Facebook's subscription check (never returned)." }),
  has_access_token: t.Boolean({ description: 'Whether a Facebook page access token is set, to fetch leads from the Graph API (never returned).' }),
  rate_limit: t.Union([t.Integer(), t.Null()], { description: 'Requests per window for this source; null means the instance default.' }),
  created_at: t.String({ format: 'date-time' }),
  last_used_at: nullableTime('Last accepted request (to the minute).'),
  rotated_at: nullableTime('When the URL was last replaced.'),
  revoked_at: nullableTime('From this time on the URL is refused.'),
}

const secretField = (description: string) => t.Optional(t.Union([t.String({ minLength: 1, maxLength: MAX_SOURCE_SECRET_LENGTH }), t.Null()], { description }))

export namespace SourceModel {
  export const source = component('Source', t.Object(sourceFields, { description: 'A source as listings show it: never its token, URL or secrets.' }))
  export type source = typeof source.static

  export const created = component(
    'SourceCreated',
    t.Object(
      {
        ...sourceFields,
        url: t.String({
          format: 'uri',
          description: "The source's URL, `…/api/v1/in/src_…`, to paste into the tool. Shown in this response only: askad keeps just its SHA-256.",
        }),
      },
      { description: 'The new (or rotated) source, including its URL this one time.' },
    ),
  )
  export type created = typeof created.static

  export const createBody = t.Object(
    {
      name: t.String({ minLength: 1, maxLength: 200, description: 'A label for humans, e.g. "HubSpot contact workflow".' }),
      preset: literalUnion(PRESET_NAMES, {
        description:
          '`generic` (JSON or a form with our field names), `zapier`, `make`, `n8n` (flat fields), `hubspot` (v3 signature), `typeform` ' +
          '(`Typeform-Signature`), `facebook` (Lead Ads: the GET verify challenge and `X-Hub-Signature-256`).',
      }),
      signing_secret: secretField(
        "The tool's signing secret (HubSpot app client secret, Typeform webhook secret, Facebook app secret), or for Zapier, Make, n8n and " +
          'generic a secret of your choice the tool sends in the `X-Askad-Secret` header. Required for `facebook`; optional for the ' +
          'others, whose signatures are checked once it is set.',
      ),
      verify_token: secretField('Facebook only, required there: the verify token you also type into the Facebook app’s webhook settings.'),
      access_token: secretField(
        'Facebook only: a page access token with `leads_retrieval`, to fetch each lead from the Graph API. Without it askad acknowledges ' +
          'the notification and stores nothing.',
      ),
      rate_limit: t.Optional(
        t.Union([t.Integer({ minimum: 1 }), t.Null()], {
          description:
            `Requests per window for this source, 1 to ${MAX_KEY_RATE_LIMIT} and never above the creating key's own limit. Default: the instance ` +
            'setting (`ASKAD_RATE_LIMIT`).',
        }),
      ),
    },
    {
      examples: [
        { name: 'Zapier: new Typeform entries', preset: 'zapier' },
        { name: 'HubSpot contact workflow', preset: 'hubspot', signing_secret: 'your-hubspot-app-client-secret' },
      ],
    },
  )
  export type createBody = typeof createBody.static

  export const params = t.Object({ id: t.String({ description: 'Source id.' }) })
  export const tokenParams = t.Object({ token: t.String({ description: 'The source token, `src_…`, from the URL askad gave at creation.' }) })

  export const listQuery = t.Object(pageQuery)
  export type listQuery = typeof listQuery.static

  export const list = pageSchema(source)

  export const accepted = component(
    'SourceDelivery',
    t.Object(
      {
        status: t.Union([t.Literal('created'), t.Literal('nothing_stored')], {
          description: '`created`: the leads were stored; `nothing_stored`: the delivery was acknowledged and held no lead askad could store.',
        }),
        leads: t.Array(t.Object({ id: t.String({ format: 'uuid' }), contact_id: t.String({ format: 'uuid' }) }), {
          description: 'The stored leads, in the order the tool sent them (a tool may batch several, or none).',
        }),
        detail: t.Optional(t.String({ description: 'Why nothing was stored, when nothing was.' })),
      },
      { description: 'What the source did with the delivery.' },
    ),
  )
  export type accepted = typeof accepted.static
}
