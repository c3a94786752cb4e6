// @ts-check
'use strict';

module.exports = {
  ...require('./config'),
  ...require('./forward'),
  ...require('./policy'),
  ...require('./redact'),
  ...require('./scope'),
  ...require('./server'),
};
