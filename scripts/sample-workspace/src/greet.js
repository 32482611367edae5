'use strict';

/** Says hello; the file exists so the backup has some code in it. */
function greet(name) {
  return `Hello, ${name}!`;
}

module.exports = { greet };

if (require.main === module) console.log(greet(process.argv[2] || 'world'));
