/** The MuShop storefront fixture, shared with the demo (scripts/demo/mushop.ts). */
export * from '../../scripts/demo/mushop';
