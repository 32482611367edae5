/** The languages besides English that every string is translated into. */
export const LANGUAGES = ['zh-cn', 'fr', 'es', 'ru'] as const;
