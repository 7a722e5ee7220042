// A module with one required and one optional parameter.
param required string
param optional string = 'default'

output value string = '${required}-${optional}'
