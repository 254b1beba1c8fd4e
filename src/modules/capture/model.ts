/** Schemas of browser capture, each paired with its type. */
import { t } from 'elysia'
import { component } from '../../lib/model-fields'

const field = (maxLength: number, description: string) => t.Optional(t.String({ maxLength, description }))

export namespace CaptureModel {
  export const body = component(
    'CaptureLead',
    t.Object(
      {
        email: t.String({ maxLength: 254, description: 'Email address (required).' }),
        name: field(400, "Full name; split at the first space into first and last name ('Jane van der Berg' → Jane / van der Berg)."),
        first_name: field(200, 'First name, instead of `name`.'),
        last_name: field(200, 'Last name, instead of `name`.'),
        phone: field(64, 'Phone number in any format.'),
        source: t.Optional(t.String({ minLength: 1, maxLength: 100, description: "Where the lead came from (default 'website')." })),
        page_url: field(2048, 'The page the form is on; the Referer header when absent. Kept in metadata and in the context.'),
        _key: field(100, 'Publishable key (ask_pk_…), for plain HTML forms that cannot send headers. Alternative: `?key=` in the form action.'),
        _redirect: field(
          2048,
          "Where a plain HTML form goes after submitting (303). Must be on the key's allowed origins; may be relative to the posting page.",
        ),
        _gotcha: t.Optional(t.Unknown({ description: 'Honeypot: leave empty and hidden. When filled the answer looks like success but nothing is stored.' })),
      },
      {
        additionalProperties: true,
        description:
          'A form submission as JSON, application/x-www-form-urlencoded or multipart/form-data. `utm_*` and any other fields are kept in metadata ' +
          '(at most 100 keys and 32 KB as JSON, else 422); fields starting with `_` are control fields and never stored. Name, email and phone may not ' +
          'hold control characters.',
        examples: [{ email: 'john@example.com', name: 'John Doe', source: 'website', page_url: 'https://example.com/pricing' }],
      },
    ),
  )
  export type body = typeof body.static

  export const query = t.Object({
    key: t.Optional(t.String({ description: 'Publishable key (ask_pk_…) for forms and pages that cannot send an Authorization header.' })),
  })
  export type query = typeof query.static

  export const created = t.Object(
    {
      id: t.String({ format: 'uuid', description: 'The new lead.' }),
      status: t.Literal('created'),
    },
    { examples: [{ id: '660e8400-e29b-41d4-a716-446655440001', status: 'created' }] },
  )
  export type created = typeof created.static

  export const redirect = t.Literal('', { description: 'A plain HTML form with `_redirect` is sent on there (Location header).' })

  export const thankYouPage = t.String({
    description: 'A small built-in HTML "Thank you" page, for plain HTML forms without `_redirect`; it links back to the Referer.',
  })
}
