/** Where the JSON API is mounted; modules build Location headers from it, the gate and the docs recognise API routes by it. */
export const API_PREFIX = '/api/v1'
