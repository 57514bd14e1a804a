/**
 * The colour world's constants: the palette, which words name which colour, and the linear
 * map between RGB and latents. README.md beside this file explains the semantics.
 */

/** Palette colours in 8-bit sRGB. Order fixes each colour's slot in the text embedding. */
export const PALETTE = {
  brown: [120, 72, 30],
  orange: [240, 130, 20],
  green: [60, 160, 50],
  white: [245, 245, 245],
  blue: [70, 130, 220],
  grey: [128, 128, 128],
  red: [200, 30, 30],
  yellow: [240, 210, 40],
  black: [20, 20, 20],
  pink: [240, 140, 180],
  purple: [130, 60, 170],
} as const satisfies Record<string, readonly [number, number, number]>;

export type ColourName = keyof typeof PALETTE;
export const COLOUR_NAMES = Object.keys(PALETTE) as ColourName[];

/** Words that mean a colour. Every other word of the vocabulary means nothing. */
export const COLOUR_WORDS: Record<string, ColourName> = {
  // brown
  brown: 'brown', dog: 'brown', dogs: 'brown', puppy: 'brown', horse: 'brown', bear: 'brown',
  wood: 'brown', wooden: 'brown', table: 'brown', chair: 'brown', bread: 'brown', mud: 'brown',
  // orange
  orange: 'orange', tiger: 'orange', fox: 'orange', pumpkin: 'orange', fire: 'orange', autumn: 'orange',
  // green
  green: 'green', grass: 'green', lawn: 'green', tree: 'green', trees: 'green', leaves: 'green',
  forest: 'green', field: 'green', frog: 'green', moss: 'green',
  // white
  white: 'white', snow: 'white', snowy: 'white', ice: 'white', paper: 'white', swan: 'white', marble: 'white',
  // blue
  blue: 'blue', sky: 'blue', water: 'blue', sea: 'blue', ocean: 'blue', lake: 'blue', river: 'blue',
  // grey
  grey: 'grey', gray: 'grey', cloudy: 'grey', clouds: 'grey', road: 'grey', stone: 'grey', rock: 'grey',
  concrete: 'grey', wolf: 'grey', elephant: 'grey', storm: 'grey',
  // red
  red: 'red', car: 'red', cars: 'red', apple: 'red', rose: 'red', brick: 'red', tomato: 'red',
  // yellow
  yellow: 'yellow', sand: 'yellow', beach: 'yellow', desert: 'yellow', lego: 'yellow', banana: 'yellow',
  sun: 'yellow', lion: 'yellow', gold: 'yellow', golden: 'yellow',
  // black
  black: 'black', cat: 'black', cats: 'black', night: 'black', crow: 'black', coal: 'black',
  // pink
  pink: 'pink', pig: 'pink', flamingo: 'pink', flower: 'pink', flowers: 'pink',
  // purple
  purple: 'purple', grape: 'purple', grapes: 'purple', lavender: 'purple', violet: 'purple',
};

/** Words with no colour that requests and prompts use; in the vocabulary so they are one token each. */
export const PLAIN_WORDS = [
  'a', 'an', 'the', 'of', 'on', 'in', 'into', 'to', 'with', 'and', 'under', 'over', 'near', 'by',
  'at', 'is', 'are', 'photo', 'picture', 'image', 'lying', 'sitting', 'standing', 'running',
  'made', 'big', 'small', 'little', 'turn', 'make', 'change', 'replace', 'convert', 'swap',
  'transform', 'it', 'its', 'scene', 'sunny', 'day', 'street', 'park', 'garden', 'front',
];

/**
 * RGB (in [-1, 1]) → scaled latent (what the engine optimises), per latent pixel.
 * Rank 3, so every latent direction that an image can take is a colour; the fourth channel
 * mixes the others, as SD latents carry correlated channels.
 */
export const RGB_TO_LATENT: readonly (readonly [number, number, number])[] = [
  [1 / 3, 1 / 3, 1 / 3],
  [0.5, -0.5, 0],
  [0, 0.5, -0.5],
  [0.25, 0.25, -0.5],
];

/** SD 1.x's VAE scaling factor, kept so the colour world runs the real scaling code path. */
export const SCALING_FACTOR = 0.18215;
/** Latent pixels per image pixel side: the VAE downsamples by 8, as SD's does. */
export const VAE_FACTOR = 8;
/** Variance of each colour's Gaussian in a prompt's prior (scaled latent units). */
export const COLOUR_VARIANCE = 0.0025;
/** Variance of the null prompt's broad prior N(0, NULL_VARIANCE·I). */
export const NULL_VARIANCE = 100;

/** 8-bit sRGB → [-1, 1], the engine's image range. */
export function toUnitRange(rgb: readonly number[]): [number, number, number] {
  return [rgb[0] / 127.5 - 1, rgb[1] / 127.5 - 1, rgb[2] / 127.5 - 1];
}

export function latentOfRgb(rgb: readonly number[]): number[] {
  const u = toUnitRange(rgb);
  return RGB_TO_LATENT.map((row) => row[0] * u[0] + row[1] * u[1] + row[2] * u[2]);
}

/** Least-squares inverse of RGB_TO_LATENT: latent → RGB in [-1, 1]. [3][4] */
export function latentToRgbMatrix(): number[][] {
  // (AᵀA)⁻¹Aᵀ for the 4×3 matrix A; 3×3 inverse by cofactors.
  const A = RGB_TO_LATENT;
  const ata = [0, 1, 2].map((i) => [0, 1, 2].map((j) => A.reduce((s, row) => s + row[i] * row[j], 0)));
  const inv = invert3(ata);
  return [0, 1, 2].map((i) => A.map((row) => inv[i][0] * row[0] + inv[i][1] * row[1] + inv[i][2] * row[2]));
}

function invert3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}
