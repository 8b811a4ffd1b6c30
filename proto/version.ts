/** The software version written into manifests and births; kept equal to package.json (tested). */
export const SOFTWARE_VERSION = '0.1.0';
