// Passes a param the module lacks, omits its required one, and reads a missing output.
module child 'modules/child.bicep' = {
  name: 'child'
  params: {
    optional: 'x'
    misspelt: 'y'
  }
}

output read string = child.outputs.valu
