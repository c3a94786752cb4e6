// @ts-check
'use strict';

module.exports = {
  ...require('./config'),
  ...require('./policy'),
  ...require('./redact'),
  ...require('./scope'),
  ...require('./server'),
};
